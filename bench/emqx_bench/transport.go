package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// TLS and WebSocket transports.
//
// The client state machine runs on gnet loops, which only take plain sockets, and a
// crypto/tls or WebSocket connection cannot be enrolled into them. So for tls, ws and wss the
// tool dials the real connection itself and enrolls one end of a local socket pair; two
// goroutines per connection carry the bytes between the pair and the real connection
// (decrypting, or taking MQTT packets out of binary WebSocket messages). Everything above
// the transport — pacing, stamps, sequence sets, histograms — is the same code as for tcp.
// Each such connection holds three file descriptors (the real socket and the pair).

var noDeadline time.Time

// transportConfig is what the dialer of a tls, ws or wss run needs.
type transportConfig struct {
	tls    *tls.Config // tls and wss
	psk    *tlspsk.Config
	wsURL  string // ws and wss: scheme://host:port/path
	header http.Header
	tlsRun negotiated // tls: what the first handshake of the run negotiated
	resume resumption // tls with -tls-resume: how many handshakes resumed
}

// newTransportConfig builds the TLS configuration (CA file or -insecure) and WebSocket URL.
func newTransportConfig(o *Options) (*transportConfig, error) {
	tc := &transportConfig{}
	if o.Transport == "tls" || o.Transport == "wss" {
		host, _, err := net.SplitHostPort(o.Broker)
		if err != nil {
			return nil, err
		}
		tc.tls = &tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
		if o.ServerName != "" {
			tc.tls.ServerName = o.ServerName
		}
		if tc.tls.CurvePreferences, err = parseCurves(o.TLSCurves); err != nil {
			return nil, err
		}
		if o.TLSResume {
			tc.tls.ClientSessionCache = tls.NewLRUClientSessionCache(16)
			tc.resume.on = true
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-ca %s: no PEM certificate in it", o.CAFile)
			}
			tc.tls.RootCAs = pool
			if !o.Insecure { // verify each distinct chain once (transport_tls.go)
				cc := &chainCache{roots: pool, name: tc.tls.ServerName}
				tc.tls.InsecureSkipVerify, tc.tls.VerifyConnection = true, cc.verify
			}
		}
	}
	if o.Transport == "psk" {
		var err error
		if tc.psk, err = pskClientConfig(o); err != nil {
			return nil, err
		}
	}
	if o.Transport == "ws" || o.Transport == "wss" {
		tc.wsURL = o.Transport + "://" + o.Broker + o.WSPath
	}
	return tc, nil
}

// dialTransport opens the real connection with d and returns the local end of a socket pair
// that carries its bytes, ready to be enrolled into gnet.
func (tc *transportConfig) dialTransport(ctx context.Context, d *net.Dialer, transport, addr string) (net.Conn, error) {
	var pump func(pair net.Conn)
	switch transport {
	case "tls":
		td := &tls.Dialer{NetDialer: d, Config: tc.tls}
		c, err := td.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		cs := c.(*tls.Conn).ConnectionState()
		if tc.tlsRun.String() == "" {
			tc.tlsRun.note(cs)
		}
		tc.resume.note(cs)
		pump = func(pair net.Conn) { pumpStream(c, pair) }
	case "psk":
		c, err := dialPSK(ctx, d, tc.psk, addr)
		if err != nil {
			return nil, err
		}
		pump = func(pair net.Conn) { pumpStream(c, pair) }
	case "ws", "wss":
		wd := &websocket.Dialer{
			NetDialContext:   d.DialContext,
			TLSClientConfig:  tc.tls,
			Subprotocols:     []string{"mqtt"}, // MQTT over WebSocket [MQTT-6.0.0-3]
			HandshakeTimeout: d.Timeout,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  64 << 10,
		}
		ws, resp, err := wd.DialContext(ctx, tc.wsURL, tc.header)
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
			}
			return nil, err
		}
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		pump = func(pair net.Conn) { pumpWebSocket(ws, pair) }
	default:
		return nil, fmt.Errorf("unknown transport %q", transport)
	}
	local, remote, err := socketPair()
	if err != nil {
		return nil, err
	}
	go pump(remote)
	return local, nil
}

// socketPair returns both ends of a connected Unix stream socket pair as net.Conns.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f) // duplicates the descriptor
		f.Close()
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			if i == 0 {
				unix.Close(fds[1])
			}
			return nil, nil, err
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}

// pumpStream copies both ways between a stream connection (TLS) and the pair until either
// side closes, then closes both.
func pumpStream(c, pair net.Conn) {
	var once sync.Once
	done := func() {
		once.Do(func() {
			c.Close()
			pair.Close()
		})
	}
	go func() {
		_, _ = io.Copy(c, pair)
		done()
	}()
	_, _ = io.Copy(pair, c)
	done()
}

// pumpWebSocket carries MQTT bytes between binary WebSocket messages and the pair. A message
// may hold any part of the MQTT stream [MQTT-6.0.0-2]; what the pair gives in one read goes
// out as one message.
func pumpWebSocket(ws *websocket.Conn, pair net.Conn) {
	var once sync.Once
	done := func() {
		once.Do(func() {
			ws.Close()
			pair.Close()
		})
	}
	go func() {
		defer done()
		buf := make([]byte, 64<<10)
		for {
			n, err := pair.Read(buf)
			if n > 0 {
				if werr := ws.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), noDeadline)
				}
				return
			}
		}
	}()
	defer done()
	for {
		kind, r, err := ws.NextReader()
		if err != nil {
			return
		}
		if kind != websocket.BinaryMessage {
			return // MQTT travels in binary messages only [MQTT-6.0.0-1]
		}
		if _, err := io.Copy(pair, r); err != nil {
			return
		}
	}
}
