package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// pskSuites are the suites the tests configure and try, by OpenSSL name.
var pskSuites = []string{"PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384", "PSK-AES128-CBC-SHA256", "PSK-AES128-CBC-SHA"}

// newPSKEnv starts a node whose ssl listener has the PSK suites besides its certificate
// (certificate false: PSK only) and knows client1 with key "1234" (hex 31323334).
func newPSKEnv(t *testing.T, log *slog.Logger, certificate bool, mutate func(l *Listener)) *tlsEnv {
	t.Helper()
	e := newTLSEnv(t, log, func(o *transport.TLSOptions, l *Listener) {
		if !certificate {
			o.CertFile, o.KeyFile = "", ""
		}
		l.TLS.PSKCiphers = append([]string{"PSK-3DES-EDE-CBC-SHA"}, pskSuites...)
		if mutate != nil {
			mutate(l)
		}
	})
	e.n.SetPSKLookup(func(id string) ([]byte, bool) {
		if id == "client1" {
			return []byte("1234"), true
		}
		return nil, false
	})
	return e
}

// v5PSK connects a paho.golang client through our TLS-PSK client.
func v5PSK(t *testing.T, addr string, cfg *tlspsk.Config, cp *paho.Connect) (*paho.Client, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc := tlspsk.Client(nc, cfg)
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := pc.Handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(pc)})
	cp.KeepAlive = 30
	if _, err := c.Connect(ctx5(t), cp); err != nil {
		t.Fatalf("connect over TLS-PSK: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, nil
}

// mosquitto_sub and mosquitto_pub with --psk over every suite, on a listener that also
// serves certificate clients, which still connect (the ClientHello is replayed to
// crypto/tls).
func TestPSKMosquittoClients(t *testing.T) {
	needMosquitto(t)
	e := newPSKEnv(t, nil, true, nil)
	for _, suite := range append(pskSuites, "") {
		name := suite
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			// The previous mosquitto_sub's subscription goes with its connection, which the
			// broker may close a moment later: startSub counts from a settled figure.
			waitFor(t, 5*time.Second, "earlier subscribers to leave", func() bool { return e.n.Stats().Subscriptions == 0 })
			args := append(hostPort(t, e.addr), "--psk", "31323334", "--psk-identity", "client1")
			if suite != "" {
				args = append(args, "--ciphers", suite, "--tls-version", "tlsv1.2")
			}
			sub := startSub(t, e.n, 1, append(args, "-t", "psk/#", "-q", "1", "-C", "1", "-v", "-i", "sub-"+name)...)
			mosquitto(t, "mosquitto_pub", append(args, "-t", "psk/"+name, "-q", "1", "-m", "over "+name, "-i", "pub-"+name)...)
			if got := sub.wait(t); len(got) != 1 || got[0] != "psk/"+name+" over "+name {
				t.Fatalf("mosquitto_sub got %q", got)
			}
		})
	}
	r := newReceived()
	c, _ := v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "cert-client", CleanStart: true}, r)
	sub5(t, c, "mixed", 0)
	pc, err := v5PSK(t, e.addr, &tlspsk.Config{Identity: "client1", Key: []byte("1234")}, &paho.Connect{ClientID: "psk-client", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	pub5(t, pc, "mixed", 0, "psk to certificate")
	r.expectMsg(t, "mixed", "psk to certificate")
}

// A wrong key and an unknown identity are refused in the handshake with an alert, counted,
// and logged with the peer address and the reason; so is every identity before a lookup is
// set (no emqx_psk_file).
func TestPSKRefused(t *testing.T) {
	needMosquitto(t)
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := newPSKEnv(t, log, true, nil)
	refused := func(identity, keyHex string) {
		t.Helper()
		before := metric(e.n, "connections.refused.tls_handshake")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "mosquitto_pub", append(hostPort(t, e.addr), "--psk", keyHex, "--psk-identity", identity,
			"--tls-version", "tlsv1.2", "-t", "x", "-m", "y")...).CombinedOutput()
		if err == nil {
			t.Fatalf("mosquitto_pub as %s with key %s succeeded: %s", identity, keyHex, out)
		}
		waitFor(t, 5*time.Second, "the refusal to be counted", func() bool { return metric(e.n, "connections.refused.tls_handshake") > before })
	}
	refused("client1", "31323335")
	lines := buf.lines("TLS handshake failed")
	if len(lines) != 1 || !strings.Contains(lines[0], `reason="wrong PSK key"`) || !strings.Contains(lines[0], "peer=127.0.0.1:") {
		t.Fatalf("want a line with the reason and the peer, got %q", lines)
	}
	refused("nobody", "31323334")
	e.n.SetPSKLookup(nil)
	refused("client1", "31323334")
	e.n.summariseTLS(time.Now().Add(time.Minute))
	if sum := buf.lines("TLS handshakes failed in the last"); len(sum) != 1 || !strings.Contains(sum[0], "unknown_PSK_identity=2") {
		t.Fatalf("summary: %q", sum)
	}
	// Our own client sees the server's alert.
	_, err := v5PSK(t, e.addr, &tlspsk.Config{Identity: "client1", Key: []byte("1234")}, &paho.Connect{ClientID: "x"})
	var ae *tlspsk.AlertError
	if !errors.As(err, &ae) || ae.Alert != tlspsk.AlertDecryptError {
		t.Fatalf("err = %v, want a decrypt_error alert", err)
	}
}

// A listener with psk_ciphers and no certificate serves PSK only: a certificate client is
// refused; with peer_cert_as_username = cn the PSK identity becomes the user name.
func TestPSKOnlyIdentityAsUsername(t *testing.T) {
	e := newPSKEnv(t, nil, false, func(l *Listener) { l.TLS.PeerCertAsUsername = "cn" })
	got := make(chan ClientEvent, 1)
	e.n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { got <- *ev }})
	ids, _, _ := tlspsk.CipherSuites([]string{"PSK-AES128-CBC-SHA"})
	if _, err := v5PSK(t, e.addr, &tlspsk.Config{Identity: "client1", Key: []byte("1234"), CipherSuites: ids}, &paho.Connect{ClientID: "c", Username: "given", UsernameFlag: true, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Username != "client1" || ev.ClientID != "c" {
			t.Fatalf("username %q client id %q", ev.Username, ev.ClientID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connected hook")
	}
	c := e.clientTLS(nil)
	c.MaxVersion = tls.VersionTLS12
	e.dialFails(t, c)
}

// TLS-PSK on a wss listener: the WebSocket upgrade and MQTT run over the PSK stream.
func TestPSKWebSocket(t *testing.T) {
	e := newWSSEnv(t, nil, func(o *transport.TLSOptions, l *Listener) {
		o.CertFile, o.KeyFile = "", ""
		l.TLS.PSKCiphers = []string{"PSK-AES256-GCM-SHA384"}
	})
	e.n.SetPSKLookup(func(id string) ([]byte, bool) { return []byte("1234"), id == "client1" })
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c := tlspsk.Client(nc, &tlspsk.Config{Identity: "client1", Key: []byte("1234")})
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := c.Handshake(); err != nil {
				nc.Close()
				return nil, err
			}
			_ = nc.SetDeadline(time.Time{})
			return c, nil
		}}
	ws, _, err := d.Dial("ws://"+e.addr+"/mqtt", nil) // ws://: the dialer already made the TLS-PSK layer
	if err != nil {
		t.Fatal(err)
	}
	if pc, ok := ws.NetConn().(*tlspsk.Conn); !ok || pc.ConnectionState().CipherSuite != tlspsk.TLS_PSK_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("connection %T", ws.NetConn())
	}
	conn := &wsNetConn{Conn: ws}
	defer conn.Close()
	r := newReceived()
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){r.handler}})
	if _, err := c.Connect(ctx5(t), &paho.Connect{ClientID: "psk-ws", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	sub5(t, c, "psk/ws", 1)
	pub5(t, c, "psk/ws", 1, "over wss with a PSK")
	r.expectMsg(t, "psk/ws", "over wss with a PSK")
}
