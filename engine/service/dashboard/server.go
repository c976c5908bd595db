// Package dashboard is the broker's web console (EMQX's emqx_dashboard plugin) on
// dashboard.listener.http (18083): a page written in plain ES modules and CSS, embedded in
// the binary (web/), with the npm files it uses (uPlot for the charts, MQTT.js's browser bundle
// for the WebSocket tool) fetched by `make` into web/vendor/.
//
// The page talks only to the public HTTP API: the dashboard mounts the API's handler
// (httpapi.NewHandler, the same endpoints as on management.listener.http) under /api/ and
// /metrics on its own port, so the browser makes same-origin calls and no CORS is needed. Its
// own endpoints are EMQX's dashboard ones: POST /api/v4/auth (log in), /api/v4/users and
// /api/v4/change_pwd/{user} (the administrators). A login returns a signed session token
// (Sessions) that the page sends as `Authorization: Bearer <token>`; the API accepts it
// beside the applications' Basic credentials (httpapi.Options.Tokens). Wrong passwords are
// logged and throttled per client address.
//
// It is a side service: it runs on net/http's goroutines and never touches an event loop.
package dashboard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

// Options configure a Server.
type Options struct {
	// Addr is the address to listen on, host:port (":18083" for every interface).
	Addr string
	// Network is "tcp", "tcp4" or "tcp6"; "" is "tcp".
	Network string
	// MaxClients caps the connections served at once (dashboard.listener.http.max_clients).
	MaxClients int
	// TLS, when set, makes the listener HTTPS (dashboard.listener.https).
	TLS *tls.Config
	// API is the HTTP API's handler, served under /api/ and /metrics. Required.
	API http.Handler
	// Sessions issues and checks the administrators' tokens. Required.
	Sessions *Sessions
	// Log receives failed logins and the server's errors; nil discards them.
	Log *slog.Logger
}

// Server is a running dashboard listener. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	ln       net.Listener
	srv      *http.Server
	throttle *throttle
	done     chan struct{}
	closing  atomic.Bool
	stopOnce sync.Once
}

// Start listens on opts.Addr and serves the console until Stop or Close. It returns once the
// port is bound, or with the bind error.
func Start(opts Options) (*Server, error) {
	if opts.API == nil || opts.Sessions == nil {
		return nil, errors.New("BUG: dashboard.Start without API or Sessions")
	}
	if opts.Network == "" {
		opts.Network = "tcp"
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = 512
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen(opts.Network, opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the dashboard on %s: %w", opts.Addr, err)
	}
	s := &Server{opts: opts, ln: ln, throttle: newThrottle(), done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelDebug),
	}
	lim := netutil.LimitListener(ln, opts.MaxClients)
	if opts.TLS != nil {
		lim = tls.NewListener(lim, opts.TLS)
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lim); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
			opts.Log.Error("dashboard stopped serving", "address", ln.Addr().String(), "error", err)
		}
	}()
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop stops accepting, lets requests in progress finish until ctx is done, then closes every
// connection.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		if err = s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
		<-s.done
	})
	return err
}

// Close frees the port at once and lets the requests in progress finish in the background
// (at most 5 s): the plugin's unload, which may come from a request of this very dashboard.
func (s *Server) Close() {
	s.closing.Store(true)
	s.ln.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	}()
}

// routes: the page, the dashboard's own endpoints, and the API under /api/ and /metrics.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/auth", s.login)
	mux.HandleFunc("GET /api/v4/users", s.authed(s.listUsers))
	mux.HandleFunc("POST /api/v4/users", s.authed(s.addUser))
	mux.HandleFunc("PUT /api/v4/users/{name}", s.authed(s.updateUser))
	mux.HandleFunc("DELETE /api/v4/users/{name}", s.authed(s.deleteUser))
	mux.HandleFunc("PUT /api/v4/change_pwd/{name}", s.authed(s.changePassword))
	mux.Handle("/api/", s.opts.API)
	mux.Handle("/metrics", s.opts.API)
	mux.Handle("/", assets())
	return securityHeaders(mux)
}

// securityHeaders: the page loads only its own files, connects only to this origin and the
// broker's WebSocket listeners, and is never framed.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; worker-src 'self' blob:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
