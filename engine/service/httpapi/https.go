package httpapi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/netutil"
)

// HTTPSOptions configure the API's HTTPS listener (EMQX's management.listener.https keys).
type HTTPSOptions struct {
	// Addr is the address to listen on, host:port.
	Addr string
	// Network is "tcp", "tcp4" or "tcp6"; "" is "tcp".
	Network string
	// MaxClients caps the connections served at once on this listener; 0: DefaultMaxClients.
	MaxClients int
	// TLS is the server's TLS configuration (the listeners' builder, transport.ServerTLS:
	// certificate reloads, client verification, versions, ciphers). Required; not modified.
	TLS *tls.Config
}

// listen binds the plain and the HTTPS listeners that opts ask for.
func (s *Server) listen() error {
	o := &s.opts
	if o.Addr == "" && o.HTTPS == nil {
		return errors.New("the HTTP API needs an HTTP or an HTTPS address")
	}
	if o.Addr != "" {
		ln, err := net.Listen(o.Network, o.Addr)
		if err != nil {
			return fmt.Errorf("cannot listen for the HTTP API on %s: %w", o.Addr, err)
		}
		s.ln = ln
	}
	if h := o.HTTPS; h != nil {
		if h.TLS == nil {
			s.closeListeners()
			return errors.New("BUG: HTTPS options without a TLS configuration")
		}
		network := h.Network
		if network == "" {
			network = "tcp"
		}
		ln, err := net.Listen(network, h.Addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("cannot listen for the HTTPS API on %s: %w", h.Addr, err)
		}
		s.tlsL = ln
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.ln, s.tlsL} {
		if ln != nil {
			ln.Close()
		}
	}
}

// serve starts one Serve goroutine per listener; s.done closes when all have returned. The
// TLS handshake runs in net/http's connection goroutine, bounded by the smallest of the
// server's read-header, read and write timeouts.
func (s *Server) serve() {
	var wg sync.WaitGroup
	run := func(ln net.Listener, addr string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.srv.Serve(ln)
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.opts.Log.Error("HTTP API stopped serving", "address", addr, "error", err)
			}
		}()
	}
	if s.ln != nil {
		run(netutil.LimitListener(s.ln, s.opts.MaxClients), s.ln.Addr().String())
	}
	if s.tlsL != nil {
		max := s.opts.HTTPS.MaxClients
		if max <= 0 {
			max = DefaultMaxClients
		}
		run(tls.NewListener(netutil.LimitListener(s.tlsL, max), s.opts.HTTPS.TLS.Clone()), s.tlsL.Addr().String())
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
}

// HTTPSAddr returns the bound address of the HTTPS listener, "" when there is none.
func (s *Server) HTTPSAddr() string {
	if s.tlsL == nil {
		return ""
	}
	return s.tlsL.Addr().String()
}
