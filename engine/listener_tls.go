package engine

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// MQTT over TLS (listener.ssl.<name>). gnet has no TLS, so a TLS connection lives on
// goroutines: an accept goroutine per listener, and per connection a goroutine that does the
// handshake (bounded by handshake_timeout) and then reads (transport.Stream), plus a writer
// goroutine while output is queued. Once the handshake succeeds the connection is given to an
// event loop, round robin, and admitted there through openConn like a TCP one (access rules,
// max_connections, max_conn_rate); from then on the unchanged state machine runs on that loop
// and reads and writes through the Stream. No descriptor beyond the socket is used.

// TLSListener holds the TLS settings of an ssl or wss listener (Listener.TLS).
type TLSListener struct {
	// Options are the TLS settings; Start builds the server configuration from them
	// (transport.NewTLSServer), logs what it applies differently (cipher names Go lacks…), and
	// logs every reload of the certificate files (on a change on disk, or on a restart of the
	// listener, which re-reads certfile, keyfile and cacertfile).
	Options          transport.TLSOptions
	HandshakeTimeout time.Duration // 0: 15 s
	// PeerCertAsUsername and PeerCertAsClientID ("", "cn", "dn" or "crt") replace the
	// CONNECT's user name or client id with the client certificate's common name, subject
	// distinguished name, or the whole certificate (PEM), when the client sent one.
	PeerCertAsUsername string
	PeerCertAsClientID string
	// PSKCiphers (psk_ciphers, OpenSSL names) enables TLS-PSK beside the certificate, or
	// alone when Options has no CertFile (listener_psk.go).
	PSKCiphers []string
}

// tlsServer is one TLS listener being served.
type tlsServer struct {
	ls    *listenerState
	cfg   *tls.Config    // nil on a PSK-only listener
	psk   *tlspsk.Config // nil without psk_ciphers
	notes []string
	ln    net.Listener
	next  atomic.Uint32 // round robin over the loops
	fail  handshakeFailures
	wg    sync.WaitGroup
}

// tlsState is the node's TLS listeners and their counter.
type tlsState struct {
	servers []*tlsServer
	refused atomic.Uint64 // failed handshakes (connections.refused.tls_handshake)
	ticked  atomic.Bool   // OnTick ran: gnet's loops are all registered and running
	psk     atomic.Pointer[PSKLookup]
}

// bindTLS binds listener l (kind ssl, or wss: WebSocket over TLS) before the loops start, so that its address is in
// byAddr from the start.
func (n *Node) bindTLS(l *Listener) error {
	key := "listener." + l.Kind + "." + l.Name
	if l.TLS == nil {
		return fmt.Errorf("%s: no TLS configuration", key)
	}
	o := l.TLS.Options
	o.OnReload = func(err error) {
		if err != nil {
			n.log.Error("TLS files changed on disk but cannot be loaded: the previous certificate stays in use", "listener", l.Kind+":"+l.Name, "error", err)
			return
		}
		n.log.Info("TLS files changed on disk: reloaded", "listener", l.Kind+":"+l.Name, "certfile", o.CertFile)
	}
	var srv *transport.TLSServer
	var cfg *tls.Config
	var notes []string
	if o.CertFile != "" || len(l.TLS.PSKCiphers) == 0 {
		var err error
		if srv, notes, err = transport.NewTLSServer(o); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		notes = append(notes, "crypto_backend = "+cmp.Or(o.CryptoBackend, transport.BackendAuto)+": the key signs with "+srv.CryptoBackend())
		cfg = srv.Config()
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("listener.%s.%s: cannot listen on %s: %w", l.Kind, l.Name, l.Addr, err)
	}
	ls := &listenerState{Listener: *l}
	if srv != nil { // a PSK-only listener has no certificate files to read again
		ls.Reload = func() error { return n.reloadTLS(ls, srv) }
	}
	n.byAddr[addrPort(ln.Addr())] = ls
	psk, pskNotes, err := n.pskConfig(l.TLS)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("%s.psk_ciphers: %w", key, err)
	}
	n.tls.servers = append(n.tls.servers, &tlsServer{ls: ls, ln: ln, cfg: cfg, psk: psk, notes: append(notes, pskNotes...)})
	return nil
}

// reloadTLS reads a TLS listener's certificate, key and CA files again (emqx_ctl listeners
// restart): new handshakes use them, established connections keep theirs. Files that do not
// load leave the previous ones in use, and the log says why.
func (n *Node) reloadTLS(ls *listenerState, srv *transport.TLSServer) error {
	id := ls.Kind + ":" + ls.Name
	if err := srv.Reload(); err != nil {
		n.log.Error("TLS files not reloaded: the previous certificate stays in use", "listener", id, "error", err)
		return err
	}
	n.log.Info("TLS files reloaded", "listener", id, "certfile", ls.TLS.Options.CertFile, "crypto_backend", srv.CryptoBackend())
	return nil
}

// startTLS starts accepting on the bound TLS listeners once every event loop is known.
func (n *Node) startTLS(loops int) error {
	if len(n.tls.servers) == 0 {
		return nil
	}
	if err := n.discoverLoops(loops); err != nil {
		return err
	}
	for _, s := range n.tls.servers {
		for _, note := range s.notes {
			n.log.Info("listener."+s.ls.Kind+"."+s.ls.Name+": "+note, "listener", s.ls.Kind+":"+s.ls.Name)
		}
		s.wg.Add(1)
		go s.accept(n)
	}
	return nil
}

// stopTLS closes the TLS listeners and waits for their accept goroutines.
func (n *Node) stopTLS() {
	for _, s := range n.tls.servers {
		_ = s.ln.Close()
	}
	for _, s := range n.tls.servers {
		s.wg.Wait()
	}
}

func (s *tlsServer) accept(n *Node) {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n.stopping.Load() {
				return
			}
			// Out of descriptors or similar: wait a little rather than spin.
			n.log.Warn("TLS listener cannot accept", "listener", s.ls.Kind+":"+s.ls.Name, "error", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go s.serve(n, nc)
	}
}

// serve does the handshake of one connection, hands it to a loop and reads it until it closes.
func (s *tlsServer) serve(n *Node, nc net.Conn) {
	ls := s.ls
	if tc, ok := nc.(*net.TCPConn); ok {
		if ls.Nagle {
			_ = tc.SetNoDelay(false)
		}
		if ls.RecBuf > 0 {
			_ = tc.SetReadBuffer(ls.RecBuf)
		}
		if ls.SndBuf > 0 {
			_ = tc.SetWriteBuffer(ls.SndBuf)
		}
	}
	sock := addrPort(nc.RemoteAddr()) // the access rules judge the socket's peer
	if ls.ProxyProtocol {             // the PROXY header comes before the handshake (proxy.go)
		d := ls.ProxyProtocolTimeout
		if d <= 0 {
			d = defaultProxyTimeout
		}
		pc, _, err := transport.ReadProxyHeader(nc, time.Now().Add(d))
		if err != nil {
			ls.noteProxyRefusal(n, sock, err)
			_ = nc.Close()
			return
		}
		nc = pc
	}
	timeout := ls.TLS.HandshakeTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	tc, cert, err := s.handshake(nc, timeout) // crypto/tls or TLS-PSK (listener_psk.go)
	if err != nil {
		n.tls.refused.Add(1)
		s.fail.note(n, ls, nc.RemoteAddr(), handshakeReason(err))
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	loops := *n.loops.Load()
	if len(loops) == 0 || n.stopping.Load() {
		_ = tc.Close()
		return
	}
	l := loops[int(s.next.Add(1)-1)%len(loops)]
	ev := &tlsEvents{}
	st := transport.NewStream(tc, l.el, ev)
	st.PeerCert = cert
	var tr transport.Conn = st
	if ls.WebSocket != nil { // wss: the WebSocket framing over the TLS stream (listener_wss.go)
		ev.ws = newWSSConn(st, ls.WebSocket)
		tr = &ev.ws.WebSocket
	}
	if err := l.el.Execute(context.Background(), runFunc(func() {
		l.begin()
		if c := n.openConnFrom(l, ls, tr, sock); c != nil {
			ev.c = c
			if ev.ws != nil {
				ev.ws.c = c
			}
		} else {
			_ = tr.Close()
		}
		l.end()
	})); err != nil {
		_ = tc.Close()
		return
	}
	// A fresh goroutine reads: the handshake grew this one's stack, which an idle reader
	// would keep.
	go st.Run()
}

// tlsEvents delivers a Stream's events to its connection on the loop.
type tlsEvents struct {
	c  *conn   // nil when admission refused the connection
	ws *wsConn // wss: the WebSocket framing between the stream and c
}

func (e *tlsEvents) Input() {
	c := e.c
	if c == nil {
		return
	}
	if e.ws != nil {
		e.ws.onTraffic()
		return
	}
	l := c.loop
	l.begin()
	c.onTraffic()
	l.end()
}

func (e *tlsEvents) Closed(err error) {
	if e.ws != nil {
		e.ws.Release()
	}
	if c := e.c; c != nil {
		e.c = nil
		c.closed(err)
	}
}

// peerCertIdentity applies the listener's peer_cert_as_username and peer_cert_as_clientid to
// a CONNECT: the certificate's value replaces the one the client sent. Runs on the loop.
func (c *conn) peerCertIdentity(username, clientID *[]byte, hasUsername *bool) {
	st, ok := c.tr.(*transport.Stream)
	if w, isWS := c.tr.(*transport.WebSocket); isWS { // wss
		st, ok = w.Under().(*transport.Stream)
	}
	if !ok {
		return
	}
	t := c.lis.TLS
	if v := pskIdentity(st, t.PeerCertAsUsername); v != nil {
		*username, *hasUsername = v, true
	}
	if v := pskIdentity(st, t.PeerCertAsClientID); v != nil {
		*clientID = v
	}
	if st.PeerCert == nil {
		return
	}
	if v := certField(st.PeerCert, t.PeerCertAsUsername); v != nil {
		*username, *hasUsername = v, true
	}
	if v := certField(st.PeerCert, t.PeerCertAsClientID); v != nil {
		*clientID = v
	}
}

// certField returns the certificate's common name (cn), subject distinguished name in RFC
// 2253 form (dn) or PEM encoding (crt); nil for "" or an empty value.
func certField(cert *x509.Certificate, which string) []byte {
	var v string
	switch which {
	case "cn":
		v = cert.Subject.CommonName
	case "dn":
		v = cert.Subject.String()
	case "crt":
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	if v == "" {
		return nil
	}
	return []byte(v)
}

// TLSAddr returns the bound address of the named ssl listener ("external"), e.g. for tests
// that listen on port 0; "" when there is none (Addr("wss:external") for a wss listener).
// Safe for concurrent use after Start.
func (n *Node) TLSAddr(name string) string {
	for _, s := range n.tls.servers {
		if s.ls.Name == name && s.ls.Kind == "ssl" {
			return s.ln.Addr().String()
		}
	}
	return ""
}
