// Package httpapi is the broker's HTTP API on the management port (management.listener.http,
// 8080 by default, and management.listener.https over TLS): EMQX's /api/v3 and /api/v4
// management endpoints (publish and its batch, brokers, nodes, stats, metrics, clients with
// their traffic counters and ACL caches, sessions, topics, subscriptions, routes,
// mqtt/subscribe and unsubscribe and their batches, and beyond EMQX acl/explain) behind HTTP
// Basic authentication with management applications, and the Prometheus scrape endpoint
// /metrics (counters, gauges, per-listener gauges and latency histograms).
//
// It is a side service: it uses only engine.Node's exported API, on net/http's goroutines, so
// a request never runs on an event loop and reads the node's counters at request time (the
// loops pay nothing for it).
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Defaults of the Options fields left zero.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 15 * time.Second // EMQX's management.listener.http.send_timeout
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxClients        = 512
)

// Options configure a Server. The zero value of each field but Addr means its default.
type Options struct {
	// Addr is the address to listen on, host:port (":8080" for every interface); "" for no
	// plain HTTP listener (HTTPS must be set then).
	Addr string
	// Network is "tcp", "tcp4" or "tcp6" (net.Listen); "" is "tcp".
	Network string
	// MaxClients caps the connections served at once (management.listener.http.max_clients):
	// past it new connections wait in the accept backlog until one closes.
	MaxClients int

	ReadHeaderTimeout time.Duration // to read a request's headers
	ReadTimeout       time.Duration // to read a whole request, body included
	WriteTimeout      time.Duration // to write a response (send_timeout)
	IdleTimeout       time.Duration // a kept-alive connection waiting for its next request
	MaxHeaderBytes    int
	MaxBodyBytes      int64 // larger request bodies are refused with a 400

	// Apps are the management applications allowed in (HTTP Basic: id and secret); at least
	// the default application (management.default_application.id/secret).
	Apps *Apps

	// Alarms is the node's alarm registry (the $SYS service's) for /api/v4/alarms; nil: the
	// lists are empty.
	Alarms AlarmSource
	// Plugins is the plugin manager for /api/v4/plugins; nil: the list is empty and loads fail.
	Plugins PluginManager
	// Tokens, when not nil, lets requests in with `Authorization: Bearer <token>` too (the
	// dashboard's administrator sessions, token.go).
	Tokens TokenChecker
	// AuthUsers reaches the users of emqx_auth_username and emqx_auth_clientid
	// (/api/v4/auth_username, /auth_clientid); nil: those answer 404.
	AuthUsers AuthUsers
	// Bridges lists the MQTT bridges for /api/v4/bridges and /metrics; nil: none.
	Bridges BridgeSource

	// HTTPS, when set, serves the same API over TLS on a listener of its own
	// (management.listener.https); the timeouts and limits above apply to it too, but its
	// MaxClients.
	HTTPS *HTTPSOptions

	// Cluster makes /nodes, /brokers and /stats answer for every running node; nil: this
	// node alone.
	Cluster Cluster

	// Log receives the server's errors; nil discards them.
	Log *slog.Logger
}

func (o *Options) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.Network == "" {
		o.Network = "tcp"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Apps == nil {
		o.Apps = NewApps()
	}
}

// Server is a running HTTP API. Its methods are safe for concurrent use.
type Server struct {
	node *engine.Node
	opts Options
	ln   net.Listener // nil without a plain HTTP listener
	tlsL net.Listener // the HTTPS listener (bound address), nil without one
	srv  *http.Server
	done chan struct{} // closed when every Serve returned

	stopOnce sync.Once
	stopErr  error
}

// Start listens on opts.Addr and serves the API for node until Stop. It returns once the
// port is bound, or with the bind error.
func Start(node *engine.Node, opts Options) (*Server, error) {
	opts.withDefaults()
	s := &Server{node: node, opts: opts, done: make(chan struct{})}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelDebug),
	}
	s.serve()
	return s, nil
}

// Addr returns the bound address of the plain HTTP listener (useful when Options.Addr has
// port 0), "" when there is none.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, lets requests in progress finish until ctx is done, then closes
// every connection. It returns ctx's error when requests had to be cut short. Calls after the
// first return the first one's result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.srv.Shutdown(ctx)
		if s.stopErr != nil {
			s.srv.Close()
		}
		<-s.done
	})
	return s.stopErr
}

// routes builds the request router: /metrics without authentication, /api/... behind it.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	for _, v := range []string{"/api/v3", "/api/v4"} {
		api.HandleFunc("POST "+v+"/mqtt/publish", s.publish)
		api.HandleFunc("GET "+v+"/brokers", s.brokers)
		api.HandleFunc("GET "+v+"/brokers/{node}", s.broker)
		api.HandleFunc("GET "+v+"/nodes", s.nodes)
		api.HandleFunc("GET "+v+"/nodes/{node}", s.nodeInfo)
		api.HandleFunc("GET "+v+"/stats", s.stats)
		api.HandleFunc("GET "+v+"/nodes/{node}/stats", s.nodeStats)
		api.HandleFunc("GET "+v+"/metrics", s.metrics)
		api.HandleFunc("GET "+v+"/nodes/{node}/metrics", s.nodeMetrics)
		for _, n := range []string{"", "/nodes/{node}"} {
			api.HandleFunc("GET "+v+n+"/clients", s.clients)
			api.HandleFunc("GET "+v+n+"/clients/{clientid}", s.client)
			api.HandleFunc("DELETE "+v+n+"/clients/{clientid}", s.kick)
			api.HandleFunc("GET "+v+n+"/clients/username/{username}", s.clientsByUsername)
			api.HandleFunc("GET "+v+n+"/subscriptions", s.subscriptions)
			api.HandleFunc("GET "+v+n+"/subscriptions/{clientid}", s.clientSubscriptions)
		}
		api.HandleFunc("GET "+v+"/routes", s.routeList)
		api.HandleFunc("GET "+v+"/routes/{topic}", s.route)
		api.HandleFunc("POST "+v+"/mqtt/subscribe", s.mqttSubscribe)
		api.HandleFunc("POST "+v+"/mqtt/unsubscribe", s.mqttUnsubscribe)
	}
	// EMQX 4.x only: the batches and the ACL explanation (beyond EMQX).
	api.HandleFunc("POST /api/v4/mqtt/publish_batch", s.publishBatch)
	api.HandleFunc("POST /api/v4/mqtt/subscribe_batch", s.mqttSubscribeBatch)
	api.HandleFunc("POST /api/v4/mqtt/unsubscribe_batch", s.mqttUnsubscribeBatch)
	api.HandleFunc("GET /api/v4/acl/explain", s.aclExplain)
	s.manageRoutes(api)
	s.sessionRoutes(api)
	s.retainedRoutes(api)
	s.authUserRoutes(api)
	s.bridgeRoutes(api)
	authed := s.authenticate(jsonMisses(api))

	root := http.NewServeMux()
	root.HandleFunc("GET /metrics", s.prometheus)
	root.Handle("/api/", trimSlash(authed))
	return jsonMisses(root)
}

// jsonMisses answers the requests mux has no route for (404, or 405 with its Allow header for
// a known path and another method) in EMQX's JSON envelope instead of text.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &missWriter{ResponseWriter: w, r: r}
		}
		mux.ServeHTTP(w, r) // sets the path values that mux.Handler does not
	})
}

// missWriter turns ServeMux's plain-text 404 and 405 answers into JSON.
type missWriter struct {
	http.ResponseWriter
	r     *http.Request
	wrote bool
}

func (m *missWriter) WriteHeader(status int) {
	if m.wrote {
		return
	}
	m.wrote = true
	msg := "no such endpoint: " + m.r.URL.Path
	if status == http.StatusMethodNotAllowed {
		msg = "method " + m.r.Method + " not allowed on " + m.r.URL.Path + " (allowed: " + m.Header().Get("Allow") + ")"
	}
	m.Header().Del("X-Content-Type-Options")
	writeError(m.ResponseWriter, status, status, msg)
}

func (m *missWriter) Write(b []byte) (int, error) {
	if !m.wrote {
		m.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's text is replaced by the JSON already written
}

// trimSlash serves "/api/v3/brokers/" as "/api/v3/brokers": EMQX 3.x documented its paths with
// a trailing slash, 4.x without.
func trimSlash(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && p[len(p)-1] == '/' {
			r2 := *r
			u := *r.URL
			u.Path = p[:len(p)-1]
			if raw := u.RawPath; raw != "" && raw[len(raw)-1] == '/' {
				u.RawPath = raw[:len(raw)-1] // keeps "%2F" in a path segment a segment
			} else {
				u.RawPath = ""
			}
			r2.URL = &u
			r = &r2
		}
		h.ServeHTTP(w, r)
	})
}
