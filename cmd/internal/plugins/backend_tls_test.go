package plugins

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/engine/backend/testpki"
	"github.com/emqgo/emqgo/engine/service/authmysql/mariadbtest"
)

// startTLSRedis runs a redis-server that speaks only TLS, with the test PKI's server
// certificate, requiring a client certificate of its CA; it stops with the test. It returns
// the port and an admin client.
func startTLSRedis(t *testing.T, pki *testPKI) (string, *redis.Client) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if testing.Short() {
			t.Skip("redis-server not found: run `make test-deps`")
		}
		t.Fatal("redis-server not found (Debian package redis-server): run `make test-deps`")
	}
	port := strconv.Itoa(freePort(t))
	srv := exec.Command("redis-server", "--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--tls-cert-file", pki.Path(testpki.CertFile), "--tls-key-file", pki.Path(testpki.KeyFile),
		"--tls-ca-cert-file", pki.Path(testpki.CAFile), "--tls-auth-clients", "yes")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	r := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, TLSConfig: pki.client.Clone()})
	t.Cleanup(func() { r.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for r.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server with TLS did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, r
}

// TestRedisPluginTLS: auth.redis.ssl = on with EMQX 4's cafile, certfile and keyfile reaches
// a Redis that speaks only TLS and requires a client certificate; without the client
// certificate the same Redis is out of reach (CONNACK 0x03), and ssl = off as well.
func TestRedisPluginTLS(t *testing.T) {
	pki := newPKI(t)
	port, r := startTLSRedis(t, pki)
	if err := r.HSet(context.Background(), "mqtt_user:rtls", "password", "pw").Err(); err != nil {
		t.Fatal(err)
	}
	files := []string{"EMQX_AUTH__REDIS__CAFILE=" + pki.Path(testpki.CAFile),
		"EMQX_AUTH__REDIS__CERTFILE=" + pki.Path(testpki.ClientCertFile), "EMQX_AUTH__REDIS__KEYFILE=" + pki.Path(testpki.ClientKeyFile)}
	for _, c := range []struct {
		name string
		env  []string
		ok   bool
	}{
		{"tls", append([]string{"EMQX_AUTH__REDIS__SSL=on"}, files...), true},
		{"no client certificate", []string{"EMQX_AUTH__REDIS__SSL=on", "EMQX_AUTH__REDIS__CAFILE=" + pki.Path(testpki.CAFile)}, false},
		{"ssl off", append([]string{"EMQX_AUTH__REDIS__SSL=off"}, files...), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := startNode(t, false)
			e := testEnv(t, append([]string{"EMQX_AUTH__REDIS__SERVER=127.0.0.1:" + port, "EMQX_AUTH__REDIS__QUERY_TIMEOUT=1s"}, c.env...)...)
			m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
			if err := m.Start("emqx_auth_redis"); err != nil {
				t.Fatal(err)
			}
			if !c.ok {
				wantConnect(t, n, "t0", "rtls", "pw", packets.ErrorRefusedServerUnavailable)
				return
			}
			wantConnect(t, n, "t1", "rtls", "pw", nil)
			wantConnect(t, n, "t2", "rtls", "wrong", errBadCreds)
		})
	}
}

// checkMySQLPluginTLS: auth.mysql.ssl = on with EMQX 4's ssl.cafile, ssl.certfile and
// ssl.keyfile, connecting as the server's user that must use TLS with a client certificate
// (REQUIRE X509); without the certificate, or with ssl off, the server refuses the plugin and
// the client is not let in. s holds the user "my" with password "public" (sha256).
func checkMySQLPluginTLS(t *testing.T, s *mariadbtest.Server) {
	files := []string{"EMQX_AUTH__MYSQL__SSL__CAFILE=" + s.PKI.Path(testpki.CAFile),
		"EMQX_AUTH__MYSQL__SSL__CERTFILE=" + s.PKI.Path(testpki.ClientCertFile),
		"EMQX_AUTH__MYSQL__SSL__KEYFILE=" + s.PKI.Path(testpki.ClientKeyFile)}
	for _, c := range []struct {
		name string
		env  []string
		ok   bool
	}{
		{"tls", append([]string{"EMQX_AUTH__MYSQL__SSL=on"}, files...), true},
		{"no client certificate", []string{"EMQX_AUTH__MYSQL__SSL=on", files[0]}, false},
		{"ssl off", append([]string{"EMQX_AUTH__MYSQL__SSL=off"}, files...), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := startNode(t, false)
			e := testEnv(t, append([]string{"EMQX_AUTH__MYSQL__SERVER=" + s.Addr(), "EMQX_AUTH__MYSQL__QUERY_TIMEOUT=2s",
				"EMQX_AUTH__MYSQL__USERNAME=" + mariadbtest.TLSUser, "EMQX_AUTH__MYSQL__PASSWORD=" + mariadbtest.Password}, c.env...)...)
			m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
			if err := m.Start("emqx_auth_mysql"); err != nil {
				t.Fatal(err)
			}
			if !c.ok {
				if err := connectErr(t, n, "t0", "my", "public"); err == nil {
					t.Error("connected although the server refuses the plugin")
				}
				return
			}
			wantConnect(t, n, "t1", "my", "public", nil)
			wantConnect(t, n, "t2", "my", "wrong", errBadCreds)
		})
	}
}

// TestHTTPPluginTLS: an https:// auth_req to a backend that requires a client certificate of
// the test CA, with auth.http.ssl.cacertfile, certfile and keyfile: the same answers as over
// plain HTTP; without the client certificate the TLS handshake fails and the client gets
// server unavailable (0x03).
func TestHTTPPluginTLS(t *testing.T) {
	pki := newPKI(t)
	b := &httpBackend{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	serverCert, err := tls.LoadX509KeyPair(pki.Path(testpki.CertFile), pki.Path(testpki.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.CA)
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ErrorLog: log.New(io.Discard, "", 0), TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert}}
	go b.srv.ServeTLS(ln, "", "")
	t.Cleanup(b.stop)

	base := "auth.http.auth_req = https://" + b.addr + "/auth\nauth.http.auth_req.params = username=%u,password=%P\n" +
		"auth.http.request.timeout = 2s\nauth.http.request.retry_times = 0\nauth.http.ssl.cacertfile = " + pki.Path(testpki.CAFile) + "\n"
	for _, c := range []struct {
		name, conf string
		ok         bool
	}{
		{"client certificate", base + "auth.http.ssl.certfile = " + pki.Path(testpki.ClientCertFile) + "\nauth.http.ssl.keyfile = " + pki.Path(testpki.ClientKeyFile) + "\n", true},
		{"no client certificate", base, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := startNode(t, false)
			e := testEnv(t)
			writePluginConf(t, e, "emqx_auth_http", c.conf)
			m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
			if err := m.Load("emqx_auth_http"); err != nil {
				t.Fatal(err)
			}
			if !c.ok {
				wantConnect(t, n, "h0", "ok", "pw", packets.ErrorRefusedServerUnavailable)
				return
			}
			wantConnect(t, n, "h1", "ok", "pw", nil)
			wantConnect(t, n, "h2", "ok", "wrong", errBadCreds)
			if got := b.last("/auth").params["username"]; got != "ok" {
				t.Errorf("the backend got username %q over TLS", got)
			}
		})
	}
}
