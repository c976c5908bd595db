package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// newWSSEnv starts a node with a wss listener ("external": WebSocket over TLS, path /mqtt,
// subprotocol checked) over a fresh certificate set; mutate adjusts it before the start.
func newWSSEnv(t *testing.T, log *slog.Logger, mutate func(o *transport.TLSOptions, l *Listener)) *tlsEnv {
	t.Helper()
	return newTLSEnv(t, log, func(o *transport.TLSOptions, l *Listener) {
		l.Kind = "wss"
		wo := &transport.WebSocketOptions{Path: "/mqtt", VerifyProtocol: true, AllowOriginAbsence: true}
		wo.Prepare()
		l.WebSocket = wo
		if mutate != nil {
			mutate(o, l)
		}
	})
}

// dialWSS opens wss://addr/mqtt with gorilla's client over crypto/tls, offering mqtt.
func dialWSS(t *testing.T, addr string, tc *tls.Config) *wsNetConn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second, TLSClientConfig: tc}
	ws, resp, err := d.Dial("wss://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatalf("dial wss://%s/mqtt: %v", addr, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", got)
	}
	if _, ok := ws.NetConn().(*tls.Conn); !ok {
		t.Fatalf("connection is a %T, not TLS", ws.NetConn())
	}
	c := &wsNetConn{Conn: ws}
	t.Cleanup(func() { c.Close() })
	return c
}

// v5wss connects a paho.golang client over wss://.
func v5wss(t *testing.T, addr string, tc *tls.Config, cp *paho.Connect, r *received) *paho.Client {
	t.Helper()
	cfg := paho.ClientConfig{Conn: dialWSS(t, addr, tc)}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	c := paho.NewClient(cfg)
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	if _, err := c.Connect(ctx5(t), cp); err != nil {
		t.Fatalf("connect %q over wss: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// dialWSSRaw is the hand-written WebSocket client (ws_helpers_test.go) over a TLS connection.
func dialWSSRaw(t *testing.T, e *tlsEnv) *wsRaw {
	t.Helper()
	c, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &wsRaw{t: t, c: c, r: bufio.NewReader(c)}
}

// Paho over gorilla's wss:// client: QoS 0, 1 and 2 both ways with a TCP client, and payloads
// of 64 KiB (many TLS records and WebSocket reads per packet).
func TestWSSPahoPubSub(t *testing.T) {
	e := newWSSEnv(t, nil, nil)
	r := newReceived()
	sub := v5wss(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "wss-sub", CleanStart: true}, r)
	sub5(t, sub, "w/#", 2)
	tcpR := newReceived()
	tcp, _ := v5(t, e.tcp, &paho.Connect{ClientID: "tcp", CleanStart: true}, tcpR)
	sub5(t, tcp, "back/#", 2)
	pub := v5wss(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "wss-pub", CleanStart: true}, nil)
	big := strings.Repeat("0123456789abcdef", 4096)
	for qos := byte(0); qos <= 2; qos++ {
		pub5(t, tcp, "w/tcp", qos, "to wss")
		if p := r.next(t); p.Topic != "w/tcp" || string(p.Payload) != "to wss" || p.QoS != qos {
			t.Fatalf("wss subscriber got %q %q QoS %d, want QoS %d", p.Topic, p.Payload, p.QoS, qos)
		}
		pub5(t, pub, "back/wss", qos, big)
		if p := tcpR.next(t); string(p.Payload) != big || p.QoS != qos {
			t.Fatalf("tcp subscriber got %d bytes QoS %d, want %d bytes QoS %d", len(p.Payload), p.QoS, len(big), qos)
		}
		pub5(t, tcp, "w/big", qos, big)
		if p := r.next(t); string(p.Payload) != big || p.QoS != qos {
			t.Fatalf("wss subscriber got %d bytes QoS %d, want %d bytes", len(p.Payload), p.QoS, len(big))
		}
	}
	if got := e.n.Stats().Connections; got != 3 {
		t.Fatalf("connections = %d, want 3", got)
	}
}

// The framing runs over TLS as over TCP: a refused upgrade gets its HTTP status, pings are
// answered, a text frame gets close 1003, and frames split anywhere are joined.
func TestWSSRawFraming(t *testing.T) {
	e := newWSSEnv(t, nil, nil)
	refused := func(req string, status int) {
		t.Helper()
		w := dialWSSRaw(t, e)
		w.send([]byte(req))
		resp := w.response()
		if resp.StatusCode != status {
			t.Fatalf("%q: status %d, want %d", req, resp.StatusCode, status)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		w.expectEOF()
	}
	refused(upgradeRequest("/other"), 404)
	refused(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: foo"), 400)
	refused(strings.Replace(upgradeRequest("/mqtt"), "Version: 13", "Version: 8", 1), 426)

	w := dialWSSRaw(t, e)
	w.upgrade("Sec-WebSocket-Protocol: mqtt")
	// CONNECT split into one-byte TLS records mid-header and mid-payload.
	f := binFrame(connectPacket(codec.V311, "raw-wss", nil))
	for i := range f {
		w.send(f[i : i+1])
	}
	if p := w.packets(1)[0]; codec.PacketType(p[0]>>4) != codec.TypeConnack {
		t.Fatalf("got % x, want CONNACK", p)
	}
	w.send(frame(0x9, true, []byte("ping")))
	if op, fin, p := w.next(); op != 0xa || !fin || string(p) != "ping" {
		t.Fatalf("got op %d fin %v %q, want pong", op, fin, p)
	}
	w.send(frame(0x1, true, []byte("text")))
	if status := w.expectClose(); status != 1003 {
		t.Fatalf("text frame: close status %d, want 1003", status)
	}
}

// A connection the broker closes (a second CONNECT) gets the MQTT 5 DISCONNECT, then a close
// frame with status 1000, then the end of the TLS stream, in that order.
func TestWSSServerClose(t *testing.T) {
	e := newWSSEnv(t, nil, nil)
	w := dialWSSRaw(t, e)
	w.upgrade()
	w.send(binFrame(connectPacket(codec.V5, "twice", nil)))
	w.packets(1)
	w.send(binFrame(connectPacket(codec.V5, "twice", nil)))
	p := w.packets(1)[0]
	if codec.PacketType(p[0]>>4) != codec.TypeDisconnect || p[2] != byte(codec.ProtocolError) {
		t.Fatalf("got % x, want DISCONNECT 0x82", p)
	}
	if status := w.expectClose(); status != 1000 {
		t.Fatalf("close status %d, want 1000", status)
	}
	waitConns(t, e.n, 0)
}

// The DISCONNECT written in the round that closes a TLS connection reaches the client before
// the stream ends (the close waits for the round's output).
func TestTLSServerDisconnect(t *testing.T) {
	e := newTLSEnv(t, nil, nil)
	c, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	r.send(connectPacket(codec.V5, "twice", nil))
	if h, _ := r.packet(); h.Type != codec.TypeConnack {
		t.Fatalf("got packet type %v, want CONNACK", h.Type)
	}
	r.send(connectPacket(codec.V5, "twice", nil))
	r.closedWith(codec.ProtocolError)
}

// Both the TLS keys and the WebSocket keys apply: verify_peer with fail_if_no_peer_cert
// refuses a client without a certificate in the handshake (counted), admits one with a
// certificate, and peer_cert_as_username takes its common name.
func TestWSSMutualAndPeerCert(t *testing.T) {
	e := newWSSEnv(t, nil, func(o *transport.TLSOptions, l *Listener) {
		o.VerifyPeer, o.FailIfNoPeerCert = true, true
		l.TLS.PeerCertAsUsername = "cn"
	})
	got := make(chan ClientEvent, 1)
	e.n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { got <- *ev }})
	v5wss(t, e.addr, e.clientTLS(e.set.Client), &paho.Connect{ClientID: "cert", Username: "ignored", UsernameFlag: true, CleanStart: true}, nil)
	select {
	case ev := <-got:
		if ev.Username != "client1" || ev.ClientID != "cert" {
			t.Fatalf("username %q client id %q, want client1 cert", ev.Username, ev.ClientID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connected hook")
	}
	t.Run("no client certificate", func(t *testing.T) { e.dialFails(t, e.clientTLS(nil)) })
	t.Run("untrusted", func(t *testing.T) { e.dialFails(t, e.clientTLS(e.set.Untrusted)) })
	t.Run("plain HTTP on the TLS port", func(t *testing.T) {
		before := metric(e.n, "connections.refused.tls_handshake")
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(upgradeRequest("/mqtt"))); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, _ := io.ReadAll(c)
		if bytes.Contains(resp, []byte("HTTP/1.1 101")) {
			t.Fatalf("upgraded without TLS: %q", resp)
		}
		waitFor(t, 5*time.Second, "the refused handshake to be counted", func() bool {
			return metric(e.n, "connections.refused.tls_handshake") == before+1
		})
	})
}

// MQTT.js (npm, pinned by tools/ci/npm.sh) over wss:// as MQTT 3.1.1 and 5, trusting the
// test CA through NODE_EXTRA_CA_CERTS.
func TestWSSMQTTJS(t *testing.T) {
	modules := mqttJSModules(t)
	e := newWSSEnv(t, nil, nil)
	runMQTTJS(t, modules, "wss://localhost:"+portOf(t, e.addr)+"/mqtt", e.tcp,
		[]string{"NODE_EXTRA_CA_CERTS=" + e.file("cacert.pem")})
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
