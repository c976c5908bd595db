package plugins

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/backend/testpki"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
)

// Subject of the test client's certificate: %C and %d.
const (
	certCN = "dev-cn"
	certDN = "CN=dev-cn,O=emqgo"
)

// testPKI is the test CA, server and client certificates, and the client's TLS configuration
// (presenting its certificate).
type testPKI struct {
	*testpki.PKI
	client *tls.Config
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p, err := testpki.Write(t.TempDir(), pkix.Name{CommonName: certCN, Organization: []string{"emqgo"}})
	if err != nil {
		t.Fatal(err)
	}
	c := p.ClientTLS()
	c.Certificates = []tls.Certificate{p.Client}
	return &testPKI{PKI: p, client: c}
}

// startTLSNode starts a node with the tcp listener "external" and an ssl listener "external"
// that asks clients for a certificate signed by the test CA (verify_peer, not required).
func startTLSNode(t *testing.T, pki *testPKI) *engine.Node {
	t.Helper()
	text := "listener.tcp.external = 127.0.0.1:0\nallow_anonymous = false\n" +
		"listener.ssl.external = 127.0.0.1:0\n" +
		"listener.ssl.external.keyfile = " + pki.Path(testpki.KeyFile) + "\n" +
		"listener.ssl.external.certfile = " + pki.Path(testpki.CertFile) + "\n" +
		"listener.ssl.external.cacertfile = " + pki.Path(testpki.CAFile) + "\n" +
		"listener.ssl.external.verify = verify_peer\n" +
		"listener.ssl.external.fail_if_no_peer_cert = false\n"
	c, _, err := config.Parse("test.conf", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := wire.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	ec.LoopCount = 1
	n, err := engine.New(ec, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	return n
}

// connectTLS connects over the ssl listener with the client certificate and returns the
// refusal, nil when accepted.
func connectTLS(t *testing.T, n *engine.Node, pki *testPKI, id, user, pass string) error {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("ssl://" + n.TLSAddr("external")).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetTLSConfig(pki.client).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: no CONNACK", id)
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// TestCertPlaceholders: %C and %d are the common name and subject of the certificate a client
// presents on a TLS listener, for the HTTP plugin's params, Redis commands and MongoDB
// selectors; a client without one sends them empty (HTTP) or is not looked up (Redis, MongoDB).
func TestCertPlaceholders(t *testing.T) {
	pki := newPKI(t)

	t.Run("http", func(t *testing.T) {
		n := startTLSNode(t, pki)
		b := startBackend(t, "127.0.0.1:0")
		e := testEnv(t)
		writePluginConf(t, e, "emqx_auth_http", "auth.http.auth_req = http://"+b.addr+"/auth\n"+
			"auth.http.auth_req.params = username=%u,password=%P,cn=%C,dn=%d\nauth.http.request.timeout = 1s\n")
		m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
		if err := m.Load("emqx_auth_http"); err != nil {
			t.Fatal(err)
		}
		if err := connectTLS(t, n, pki, "c1", "ok-cert", "pw"); err != nil {
			t.Fatalf("TLS client refused: %v", err)
		}
		if p := b.last("/auth").params; p["cn"] != certCN || p["dn"] != certDN {
			t.Errorf("params over TLS: cn=%q dn=%q, want %q and %q", p["cn"], p["dn"], certCN, certDN)
		}
		wantConnect(t, n, "c2", "ok-plain", "pw", nil)
		if p := b.last("/auth").params; p["cn"] != "" || p["dn"] != "" || p["username"] != "ok-plain" {
			t.Errorf("params over TCP: %v, want empty cn and dn", p)
		}
	})

	t.Run("redis", func(t *testing.T) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Fatal("redis-server not found (Debian package redis-server): run `make test-deps`")
		}
		port := strconv.Itoa(freePort(t))
		srv := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
		r := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
		defer r.Close()
		deadline := time.Now().Add(10 * time.Second)
		for r.Ping(context.Background()).Err() != nil {
			if time.Now().After(deadline) {
				t.Fatal("redis-server did not answer within 10s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := r.HSet(context.Background(), "mqtt_cert:"+certCN+":"+certDN, "password", "pw-cert").Err(); err != nil {
			t.Fatal(err)
		}
		n := startTLSNode(t, pki)
		e := testEnv(t, "EMQX_AUTH__REDIS__SERVER="+port, "EMQX_AUTH__REDIS__AUTH_CMD=HMGET mqtt_cert:%C:%d password")
		m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
		if err := m.Load("emqx_auth_redis"); err != nil {
			t.Fatal(err)
		}
		if err := connectTLS(t, n, pki, "r1", "anyone", "pw-cert"); err != nil {
			t.Errorf("TLS client with the certificate's key: %v", err)
		}
		if err := connectTLS(t, n, pki, "r2", "anyone", "wrong"); err == nil {
			t.Error("TLS client with a wrong password accepted")
		}
		before := m.Monitor("emqx_auth_redis").Get(backend.AuthSuccess)
		wantConnect(t, n, "r3", "anyone", "pw-cert", errBadCreds) // no certificate: ignored, anonymous refused
		if got := m.Monitor("emqx_auth_redis").Get(backend.AuthSuccess); got != before {
			t.Errorf("a client without a certificate was counted a success")
		}
	})

	t.Run("mongo", func(t *testing.T) {
		s, err := ferrettest.Start(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		s.Insert(t, "mqtt_user", bson.M{"cn": certCN, "dn": certDN, "password": "pw-mongo"})
		n := startTLSNode(t, pki)
		e := testEnv(t, "EMQX_AUTH__MONGO__SERVER="+s.Addr(), "EMQX_AUTH__MONGO__AUTH_QUERY__SELECTOR=cn=%C, dn=%d",
			"EMQX_AUTH__MONGO__AUTH_QUERY__PASSWORD_HASH=plain", "EMQX_AUTH__MONGO__SUPER_QUERY=off", "EMQX_AUTH__MONGO__ACL_QUERY=off")
		m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
		if err := m.Load("emqx_auth_mongo"); err != nil {
			t.Fatal(err)
		}
		if err := connectTLS(t, n, pki, "m1", "whoever", "pw-mongo"); err != nil {
			t.Errorf("TLS client found by its certificate: %v", err)
		}
		wantConnect(t, n, "m2", "whoever", "pw-mongo", errBadCreds) // no certificate: not looked up
	})
}
