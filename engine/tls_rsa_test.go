package engine

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/certgen"
	"github.com/emqgo/emqgo/engine/transport/osslsign"
)

// rsaTLSEnv is a node whose ssl listener serves an RSA-2048 certificate of its own CA with
// crypto_backend = backend; log receives the node's Info lines.
type rsaTLSEnv struct {
	*tlsEnv
	caFile string
	rsaCA  *x509.CertPool
	log    *lockedBuffer
}

func newRSATLSEnv(t *testing.T, backend string) *rsaTLSEnv {
	t.Helper()
	ca, err := certgen.NewCA("rsa CA")
	if err != nil {
		t.Fatal(err)
	}
	o := certgen.ServerOptions()
	o.RSA = true
	srv, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &rsaTLSEnv{caFile: filepath.Join(dir, "rsa-ca.pem"), rsaCA: x509.NewCertPool(), log: &lockedBuffer{}}
	r.rsaCA.AddCert(ca.Cert)
	if err := os.WriteFile(r.caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "rsa-cert.pem"), filepath.Join(dir, "rsa-key.pem")
	if err := srv.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.tlsEnv = newTLSEnv(t, log, func(o *transport.TLSOptions, _ *Listener) {
		o.CertFile, o.KeyFile, o.CryptoBackend = cert, key, backend
	})
	return r
}

// client is a Go TLS client configuration trusting the RSA CA, at version v only.
func (r *rsaTLSEnv) client(v uint16) *tls.Config {
	return &tls.Config{RootCAs: r.rsaCA, ServerName: "localhost", MinVersion: v, MaxVersion: v}
}

// pubSub runs mosquitto_sub (TLS 1.3) and mosquitto_pub (TLS 1.2) with --cafile, and paho
// clients over TLS 1.3 and 1.2, through the listener's RSA certificate.
func (r *rsaTLSEnv) pubSub(t *testing.T) {
	t.Helper()
	got := newReceived()
	sub, _ := v5TLS(t, r.addr, r.client(tls.VersionTLS13), &paho.Connect{ClientID: "rsa-sub13", CleanStart: true}, got)
	sub5(t, sub, "rsa/#", 1)
	pub, _ := v5TLS(t, r.addr, r.client(tls.VersionTLS12), &paho.Connect{ClientID: "rsa-pub12", CleanStart: true}, nil)
	pub5(t, pub, "rsa/go", 1, "over tls 1.2")
	got.expectMsg(t, "rsa/go", "over tls 1.2")

	needMosquitto(t)
	hp := hostPort(t, r.addr)
	ms := startSub(t, r.n, 1, append(hp, "--cafile", r.caFile, "--tls-version", "tlsv1.3", "-t", "mq/#", "-C", "1", "-v")...)
	mosquitto(t, "mosquitto_pub", append(hp, "--cafile", r.caFile, "--tls-version", "tlsv1.2", "-t", "mq/rsa", "-m", "from mosquitto_pub")...)
	if out := ms.wait(t); strings.Join(out, "|") != "mq/rsa from mosquitto_pub" {
		t.Fatalf("mosquitto_sub got %q", out)
	}
}

// TestTLSRSAOpenSSL: with crypto_backend = auto and libcrypto.so.3 present, the listener logs
// that OpenSSL signs with its RSA key, and Go's and Mosquitto's clients connect over TLS 1.3
// and 1.2; a restart of the listener re-reads the files and keeps OpenSSL.
func TestTLSRSAOpenSSL(t *testing.T) {
	if err := osslsign.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto.so.3 is needed (tools/ci/deps.sh): %v", err)
		}
		t.Skip(err)
	}
	r := newRSATLSEnv(t, "")
	if l := r.log.lines("crypto_backend = auto: the key signs with openssl (OpenSSL 3."); len(l) != 1 || !strings.Contains(l[0], "listener=ssl:external") {
		t.Fatalf("backend log: %q", r.log.lines("crypto_backend"))
	}
	r.pubSub(t)
	if err := r.n.RestartListener("ssl:external"); err != nil {
		t.Fatal(err)
	}
	if l := r.log.lines("msg=\"TLS files reloaded\""); len(l) != 1 || !strings.Contains(l[0], `crypto_backend="openssl (OpenSSL 3.`) {
		t.Fatalf("reload log: %q", l)
	}
	conn, err := tls.Dial("tcp", r.addr, r.client(tls.VersionTLS13))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.ConnectionState().PeerCertificates[0].PublicKey.(*rsa.PublicKey); !ok {
		t.Fatal("not the RSA certificate")
	}
}

// TestTLSRSABackendGo: crypto_backend = go serves the same clients with Go's signer, and says so.
func TestTLSRSABackendGo(t *testing.T) {
	r := newRSATLSEnv(t, transport.BackendGo)
	if l := r.log.lines("crypto_backend = go: the key signs with go (crypto_backend = go)"); len(l) != 1 {
		t.Fatalf("backend log: %q", r.log.lines("crypto_backend"))
	}
	r.pubSub(t)
}
