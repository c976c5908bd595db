package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// peerHook returns a channel of the peers the ClientConnected hook sees.
func peerHook(t *testing.T, n *Node) chan netip.AddrPort {
	peers := make(chan netip.AddrPort, 16)
	t.Cleanup(n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { peers <- ev.Peer }}))
	return peers
}

// TestProxyProtocolWS: on a ws listener with proxy_protocol the PROXY header comes before the
// upgrade request, in any pieces, and its client is the connection's peer; a connection
// without it is closed without an answer and counted.
func TestProxyProtocolWS(t *testing.T) {
	n, _, addr := wsNode(t, nil, func(c *Config) {
		c.Listeners[len(c.Listeners)-1].ProxyProtocol = true
	})
	peers := peerHook(t, n)
	w := dialWSRaw(t, addr)
	req := append([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 8083\r\n"), upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: mqtt")...)
	w.send(req[:20])
	time.Sleep(30 * time.Millisecond)
	w.send(req[20:])
	if resp := w.response(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade after the PROXY header: %d", resp.StatusCode)
	}
	w.send(binFrame(connectPacket(codec.V311, "proxied-ws", nil)))
	w.packets(1)
	if p := nextPeer(t, peers); p != netip.MustParseAddrPort("203.0.113.7:5555") {
		t.Fatalf("peer %v, want 203.0.113.7:5555", p)
	}

	// Through gorilla: a v2 header written by the dialer before the upgrade.
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, a)
			if err == nil {
				_, err = c.Write(proxyV2(1, netip.MustParseAddrPort("[2001:db8::9]:4000"), netip.MustParseAddrPort("[2001:db8::1]:8083")))
			}
			return c, err
		}}
	conn, _, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	wc := &wsNetConn{Conn: conn}
	t.Cleanup(func() { wc.Close() })
	pc := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(wc)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: "gorilla-proxied", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if p := nextPeer(t, peers); p != netip.MustParseAddrPort("[2001:db8::9]:4000") {
		t.Fatalf("peer %v, want [2001:db8::9]:4000", p)
	}

	before := metric(n, "connections.refused.proxy_protocol")
	bare := dialWSRaw(t, addr)
	bare.send([]byte(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: mqtt")))
	bare.expectEOF() // no HTTP answer: the peer may not be speaking HTTP
	waitFor(t, 5*time.Second, "the refusal to be counted", func() bool {
		return metric(n, "connections.refused.proxy_protocol") == before+1
	})
}

// proxiedTLSDial dials addr, writes header, then runs the TLS handshake over the socket.
func proxiedTLSDial(t *testing.T, addr string, header []byte, tc *tls.Config) *tls.Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write(header); err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, tc)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatalf("TLS handshake after the PROXY header: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestProxyProtocolTLS: on ssl and wss listeners with proxy_protocol the header comes before
// the TLS handshake; its client is the peer (and the TLS listener's access rules still judge
// the socket's peer, the proxy); a connection starting with a ClientHello, or silent past
// proxy_protocol_timeout, is closed and counted.
func TestProxyProtocolTLS(t *testing.T) {
	e := newTLSEnv(t, nil, func(_ *transport.TLSOptions, l *Listener) {
		l.ProxyProtocol, l.ProxyProtocolTimeout = true, 300*time.Millisecond
		l.Access = []AccessRule{{Allow: true, Prefix: netip.MustParsePrefix("127.0.0.1/32")}, {All: true}}
	})
	peers := peerHook(t, e.n)
	// The access rules admit only 127.0.0.1: the proxy, not the client it names.
	c := proxiedTLSDial(t, e.addr, []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 8883\r\n"), e.clientTLS(nil))
	pc := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(c)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: "tls-proxied", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if p := nextPeer(t, peers); p != netip.MustParseAddrPort("203.0.113.7:5555") {
		t.Fatalf("peer %v, want 203.0.113.7:5555", p)
	}

	before := metric(e.n, "connections.refused.proxy_protocol")
	direct, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.addr, e.clientTLS(nil))
	if err == nil {
		direct.Close()
		t.Fatal("a TLS handshake without the PROXY header succeeded")
	}
	silent, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(silent).ReadByte(); err == nil {
		t.Fatal("a silent connection got an answer")
	}
	waitFor(t, 5*time.Second, "both refusals to be counted", func() bool {
		return metric(e.n, "connections.refused.proxy_protocol") == before+2
	})

	// wss: the same header before the handshake, then the upgrade inside TLS.
	s := newWSSEnv(t, nil, func(_ *transport.TLSOptions, l *Listener) { l.ProxyProtocol = true })
	speers := peerHook(t, s.n)
	tc := proxiedTLSDial(t, s.addr, proxyV2(1, netip.MustParseAddrPort("198.51.100.4:7000"), netip.MustParseAddrPort("10.0.0.1:8084")), s.clientTLS(nil))
	w := &wsRaw{t: t, c: tc, r: bufio.NewReader(tc)}
	w.upgrade("Sec-WebSocket-Protocol: mqtt")
	w.send(binFrame(connectPacket(codec.V311, "wss-proxied", nil)))
	w.packets(1)
	if p := nextPeer(t, speers); p != netip.MustParseAddrPort("198.51.100.4:7000") {
		t.Fatalf("wss peer %v, want 198.51.100.4:7000", p)
	}
}
