package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// tlsEnv is a node with a TLS listener over a certificate set written to dir.
type tlsEnv struct {
	n    *Node
	addr string // the TLS listener
	tcp  string
	set  *certgen.Set
	dir  string
	pool *x509.CertPool // trusts set.CA
}

// tlsFile returns the path of one of certgen's files in dir.
func (e *tlsEnv) file(name string) string { return filepath.Join(e.dir, name) }

// newTLSEnv starts a node whose "external" TLS listener uses a fresh certificate set;
// mutate adjusts the options and the listener before the node starts.
func newTLSEnv(t *testing.T, log *slog.Logger, mutate func(o *transport.TLSOptions, l *Listener)) *tlsEnv {
	t.Helper()
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e := &tlsEnv{set: set, dir: t.TempDir(), pool: x509.NewCertPool()}
	if err := set.WriteDir(e.dir); err != nil {
		t.Fatal(err)
	}
	e.pool.AddCert(set.CA.Cert)
	o := transport.TLSOptions{
		CertFile: e.file(certgen.Files.Cert), KeyFile: e.file(certgen.Files.Key), CACertFile: e.file(certgen.Files.CACert),
		Depth: 10, ReuseSessions: true,
	}
	kind := "ssl"
	e.n, e.tcp = testNodeLog(t, func(c *Config) {
		l := Listener{Kind: "ssl", Name: "external", Addr: "127.0.0.1:0", Zone: c.Listeners[0].Zone, MaxConnections: 1000,
			TLS: &TLSListener{HandshakeTimeout: 5 * time.Second}}
		if mutate != nil {
			mutate(&o, &l) // may make it a wss listener (wss_test.go)
		}
		l.TLS.Options = o
		kind = l.Kind
		c.Listeners = append(c.Listeners, l)
	}, log)
	e.addr = e.n.Addr(kind + ":external")
	if e.addr == "" {
		t.Fatal("no TLS listener address")
	}
	return e
}

// clientTLS is a client configuration trusting the set's CA, with the client certificate
// pair (nil for none).
func (e *tlsEnv) clientTLS(pair *certgen.Pair) *tls.Config {
	c := &tls.Config{RootCAs: e.pool, ServerName: "localhost"}
	if pair != nil {
		// Sent whatever CAs the server names (Go's client would leave out an untrusted one).
		cert := &tls.Certificate{Certificate: [][]byte{pair.Cert.Raw}, PrivateKey: pair.Key}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return c
}

// v5TLS connects a paho.golang client over TLS.
func v5TLS(t *testing.T, addr string, tc *tls.Config, cp *paho.Connect, r *received) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	// paho writes a packet as several buffers; over TLS they are several writes, which its
	// goroutines interleave unless the connection is locked (TCP's writev is atomic).
	cfg := paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	c := paho.NewClient(cfg)
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ca, err := c.Connect(ctx5(t), cp)
	if err != nil {
		t.Fatalf("connect %q over TLS: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ca
}

// dialFails asserts that a TLS handshake with tc fails, and that the node counts it.
func (e *tlsEnv) dialFails(t *testing.T, tc *tls.Config) {
	t.Helper()
	before := metric(e.n, "connections.refused.tls_handshake")
	conn, err := tls.Dial("tcp", e.addr, tc)
	if err == nil {
		// TLS 1.3: the client finishes first; the server's refusal arrives on the first read.
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("handshake succeeded")
	}
	waitFor(t, 5*time.Second, "the refused handshake to be counted", func() bool {
		return metric(e.n, "connections.refused.tls_handshake") == before+1
	})
}

func TestTLSServerAuthPubSub(t *testing.T) {
	e := newTLSEnv(t, nil, nil)
	r := newReceived()
	sub, _ := v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "tls-sub", CleanStart: true}, r)
	sub5(t, sub, "t/#", 1)
	pub, _ := v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "tls-pub", CleanStart: true}, nil)
	// QoS 1 both ways: the PUBACK comes back over TLS too.
	if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "t/1", QoS: 1, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if p := r.next(t); p.Topic != "t/1" || string(p.Payload) != "hello" || p.QoS != 1 {
		t.Fatalf("got %q %q qos %d", p.Topic, p.Payload, p.QoS)
	}
	// TCP and TLS clients share the broker.
	tcpPub, _ := v5(t, e.tcp, &paho.Connect{ClientID: "tcp-pub", CleanStart: true}, nil)
	pub5(t, tcpPub, "t/2", 0, "from tcp")
	r.expectMsg(t, "t/2", "from tcp")
	if got := e.n.Stats().Connections; got != 3 {
		t.Fatalf("connections = %d, want 3", got)
	}
}

// TestTLSLargeStream sends 4 KiB payloads both ways in a stream: many TLS records per
// packet batch, packets split across records and reads.
func TestTLSLargeStream(t *testing.T) {
	e := newTLSEnv(t, nil, nil)
	r := newReceived()
	sub, _ := v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "big-sub", CleanStart: true}, r)
	sub5(t, sub, "big", 1) // QoS 1: a QoS 0 stream may be cut by the slow-consumer policy under load
	pub, _ := v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "big-pub", CleanStart: true}, nil)
	const k = 300
	payload := bytes.Repeat([]byte("0123456789abcdef"), 256)
	go func() {
		for i := 0; i < k; i++ {
			p := append([]byte{byte(i), byte(i >> 8)}, payload...)
			if _, err := pub.Publish(context.Background(), &paho.Publish{Topic: "big", QoS: 1, Payload: p}); err != nil {
				return
			}
		}
	}()
	for i := 0; i < k; i++ {
		p := r.next(t)
		if len(p.Payload) != len(payload)+2 || int(p.Payload[0])|int(p.Payload[1])<<8 != i || !bytes.Equal(p.Payload[2:], payload) {
			t.Fatalf("message %d: wrong payload (len %d)", i, len(p.Payload))
		}
	}
}

func TestTLSMutual(t *testing.T) {
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) {
		o.VerifyPeer, o.FailIfNoPeerCert = true, true
	})
	c, _ := v5TLS(t, e.addr, e.clientTLS(e.set.Client), &paho.Connect{ClientID: "mutual", CleanStart: true}, nil)
	pub5(t, c, "m", 1, "x")
	t.Run("no client certificate", func(t *testing.T) { e.dialFails(t, e.clientTLS(nil)) })
	t.Run("expired", func(t *testing.T) { e.dialFails(t, e.clientTLS(e.set.Expired)) })
	t.Run("untrusted", func(t *testing.T) { e.dialFails(t, e.clientTLS(e.set.Untrusted)) })
	t.Run("server untrusted by the client", func(t *testing.T) {
		c := e.clientTLS(e.set.Client)
		c.RootCAs = nil
		e.dialFails(t, c)
	})
}

// TestTLSVerifyPeerOptional: verify_peer without fail_if_no_peer_cert admits clients
// without a certificate but still refuses a bad one.
func TestTLSVerifyPeerOptional(t *testing.T) {
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) { o.VerifyPeer = true })
	v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "anon", CleanStart: true}, nil)
	e.dialFails(t, e.clientTLS(e.set.Untrusted))
}

// TestTLSHandshakeLog: the first failure of an interval is logged at once with the peer and
// the reason, the next ones only in the summary.
func TestTLSHandshakeLog(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := newTLSEnv(t, log, func(o *transport.TLSOptions, _ *Listener) {
		o.VerifyPeer, o.FailIfNoPeerCert = true, true
	})
	e.dialFails(t, e.clientTLS(e.set.Expired))
	for i := 0; i < 5; i++ {
		e.dialFails(t, e.clientTLS(e.set.Untrusted))
	}
	e.dialFails(t, e.clientTLS(nil))
	lines := buf.lines("TLS handshake failed")
	if len(lines) != 1 || !strings.Contains(lines[0], "reason=\"client certificate expired or not yet valid\"") || !strings.Contains(lines[0], "peer=127.0.0.1:") {
		t.Fatalf("want one line naming the expired certificate and the peer, got %q", lines)
	}
	e.n.summariseTLS(time.Now().Add(time.Minute))
	sum := buf.lines("TLS handshakes failed in the last")
	if len(sum) != 1 || !strings.Contains(sum[0], "client_certificate_untrusted_(unknown_authority)=5") ||
		!strings.Contains(sum[0], "no_client_certificate=1") || !strings.Contains(sum[0], "total=6") {
		t.Fatalf("summary: %q", sum)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(s, sub) {
			out = append(out, s)
		}
	}
	return out
}

func TestTLSVersions(t *testing.T) {
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) { o.Versions = []string{"tlsv1.3"} })
	c12 := e.clientTLS(nil)
	c12.MaxVersion = tls.VersionTLS12
	e.dialFails(t, c12)
	conn, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("version %x", v)
	}
}

// TestTLSCiphers: the configured OpenSSL names decide the TLS 1.2 suite; a client offering
// none of them is refused.
func TestTLSCiphers(t *testing.T) {
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) {
		o.Versions = []string{"tlsv1.2"}
		o.Ciphers = []string{"DHE-DSS-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}
	})
	c := e.clientTLS(nil)
	conn, err := tls.Dial("tcp", e.addr, c)
	if err != nil {
		t.Fatal(err)
	}
	if cs := conn.ConnectionState().CipherSuite; cs != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Fatalf("suite %s", tls.CipherSuiteName(cs))
	}
	conn.Close()
	c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	e.dialFails(t, c)
}

func TestTLSPeerCertAsUsername(t *testing.T) {
	for _, tc := range []struct{ as, wantUser, wantID string }{
		{"cn", "client1", "given"},
		{"dn", "CN=client1,O=emqgo demo", "given"},
	} {
		t.Run(tc.as, func(t *testing.T) {
			e := newTLSEnv(t, nil, func(o *transport.TLSOptions, l *Listener) {
				o.VerifyPeer = true
				l.TLS.PeerCertAsUsername = tc.as
			})
			got := make(chan ClientEvent, 1)
			e.n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { got <- *ev }})
			v5TLS(t, e.addr, e.clientTLS(e.set.Client), &paho.Connect{ClientID: "given", Username: "ignored", UsernameFlag: true, CleanStart: true}, nil)
			select {
			case ev := <-got:
				if ev.Username != tc.wantUser || ev.ClientID != tc.wantID {
					t.Fatalf("username %q client id %q, want %q %q", ev.Username, ev.ClientID, tc.wantUser, tc.wantID)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no connected hook")
			}
		})
	}
	t.Run("clientid cn", func(t *testing.T) {
		e := newTLSEnv(t, nil, func(o *transport.TLSOptions, l *Listener) {
			o.VerifyPeer = true
			l.TLS.PeerCertAsClientID = "cn"
		})
		got := make(chan string, 1)
		e.n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { got <- ev.ClientID }})
		v5TLS(t, e.addr, e.clientTLS(e.set.Client), &paho.Connect{ClientID: "given", CleanStart: true}, nil)
		if id := <-got; id != "client1" {
			t.Fatalf("client id %q, want client1", id)
		}
	})
}

// TestTLSCertificateRotation: a new certificate written over the files is served on the
// next handshakes without a restart.
func TestTLSCertificateRotation(t *testing.T) {
	e := newTLSEnv(t, nil, nil)
	first := serverCert(t, e)
	fresh, err := e.set.CA.Issue(certgen.ServerOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Write(e.file(certgen.Files.Cert), e.file(certgen.Files.Key)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the rotated certificate to be served", func() bool {
		return serverCert(t, e).SerialNumber.Cmp(fresh.Cert.SerialNumber) == 0
	})
	if first.SerialNumber.Cmp(fresh.Cert.SerialNumber) == 0 {
		t.Fatal("same serial")
	}
}

func serverCert(t *testing.T, e *tlsEnv) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestTLSAdmission: a TLS connection goes through the listener's admission like a TCP one:
// access rules and max_connections refuse it after the handshake.
func TestTLSAdmission(t *testing.T) {
	e := newTLSEnv(t, nil, func(_ *transport.TLSOptions, l *Listener) { l.MaxConnections = 1 })
	v5TLS(t, e.addr, e.clientTLS(nil), &paho.Connect{ClientID: "first", CleanStart: true}, nil)
	conn, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("second connection not closed")
	}
	if got := metric(e.n, "connections.refused.max_connections"); got != 1 {
		t.Fatalf("connections.refused.max_connections = %d", got)
	}
	deny := newTLSEnv(t, nil, func(_ *transport.TLSOptions, l *Listener) { l.Access = []AccessRule{{All: true}} })
	conn2, err := tls.Dial("tcp", deny.addr, deny.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_ = conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn2.Read(make([]byte, 1)); err == nil {
		t.Fatal("denied connection not closed")
	}
	if got := metric(deny.n, "connections.refused.access"); got != 1 {
		t.Fatalf("connections.refused.access = %d", got)
	}
}

// TestTLSMosquittoClients: mosquitto_sub and mosquitto_pub over mutual TLS (--cafile,
// --cert, --key), QoS 1, and a client without a certificate refused.
func TestTLSMosquittoClients(t *testing.T) {
	needMosquitto(t)
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) { o.VerifyPeer, o.FailIfNoPeerCert = true, true })
	auth := append(hostPort(t, e.addr), "--cafile", e.file(certgen.Files.CACert),
		"--cert", e.file(certgen.Files.ClientCert), "--key", e.file(certgen.Files.ClientKey))
	sub := startSub(t, e.n, 1, append(auth, "-t", "mq/#", "-q", "1", "-C", "2", "-V", "mqttv311", "-v")...)
	mosquitto(t, "mosquitto_pub", append(auth, "-t", "mq/1", "-q", "1", "-m", "one", "-V", "mqttv5")...)
	mosquitto(t, "mosquitto_pub", append(auth, "-t", "mq/2", "-q", "0", "-m", "two", "-V", "mqttv31")...)
	got := sub.wait(t)
	if strings.Join(got, "|") != "mq/1 one|mq/2 two" {
		t.Fatalf("mosquitto_sub got %q", got)
	}
	before := metric(e.n, "connections.refused.tls_handshake")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mosquitto_pub", append(hostPort(t, e.addr), "--cafile", e.file(certgen.Files.CACert), "-t", "x", "-m", "y")...).CombinedOutput()
	if err == nil {
		t.Fatalf("mosquitto_pub without a client certificate succeeded: %s", out)
	}
	waitFor(t, 5*time.Second, "the refusal to be counted", func() bool { return metric(e.n, "connections.refused.tls_handshake") > before })
}
