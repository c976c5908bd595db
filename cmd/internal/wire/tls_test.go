package wire

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

func certDir(t *testing.T) (string, *certgen.Set) {
	t.Helper()
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir, set
}

// TestTLSListenerFromConf: listener.ssl.<name> keys reach a served TLS listener: mutual TLS,
// tls_versions, and peer_cert_as_clientid.
func TestTLSListenerFromConf(t *testing.T) {
	dir, set := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	n := startConf(t, `
listener.tcp.external = 127.0.0.1:0
listener.ssl.external = 127.0.0.1:0
listener.ssl.external.keyfile = `+f(certgen.Files.Key)+`
listener.ssl.external.certfile = `+f(certgen.Files.Cert)+`
listener.ssl.external.cacertfile = `+f(certgen.Files.CACert)+`
listener.ssl.external.verify = verify_peer
listener.ssl.external.fail_if_no_peer_cert = true
listener.ssl.external.tls_versions = tlsv1.3,tlsv1.2
listener.ssl.external.ciphers = ECDHE-ECDSA-AES128-GCM-SHA256,DHE-RSA-AES128-SHA
listener.ssl.external.handshake_timeout = 3s
listener.ssl.external.peer_cert_as_clientid = cn
`)
	addr := n.TLSAddr("external")
	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	cert := tls.Certificate{Certificate: [][]byte{set.Client.Cert.Raw}, PrivateKey: set.Client.Key}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if cs := conn.ConnectionState().CipherSuite; cs != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("cipher %s", tls.CipherSuiteName(cs))
	}
	// An empty client id: the certificate's CN is used instead of an assigned one.
	if _, err := conn.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 30})); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var ca codec.Connack
	if err := ca.Decode(buf[:k], codec.V5); err != nil || ca.Code != 0 {
		t.Fatalf("connack %v %+v", err, ca)
	}
	if ca.Props.Has(codec.PropAssignedClientID) {
		t.Fatalf("assigned a client id %q although the certificate names one", ca.Props.AssignedClientID)
	}
	// Without a client certificate: refused in the handshake.
	c2, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err == nil {
		_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c2.Read(buf)
		c2.Close()
	}
	if err == nil {
		t.Fatal("no client certificate: handshake succeeded")
	}
}

func TestTLSConfErrors(t *testing.T) {
	dir, _ := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	base := "listener.tcp.external = 127.0.0.1:0\nlistener.ssl.external = 127.0.0.1:0\nlistener.ssl.external.keyfile = " + f(certgen.Files.Key) + "\n"
	for _, tc := range []struct{ conf, want string }{
		{base + "listener.ssl.external.certfile = " + f(certgen.Files.Cert) + "\nlistener.ssl.external.ciphers = ECDHE-RSA-AES128-GCM-SHA265\n",
			`listener.ssl.external: ciphers: "ECDHE-RSA-AES128-GCM-SHA265" is not a TLS cipher suite name`},
		{base + "listener.ssl.external.certfile = " + f("nope.pem") + "\n", "listener.ssl.external: certfile/keyfile:"},
		{base + "listener.ssl.external.certfile = " + f(certgen.Files.Cert) + "\nlistener.ssl.external.verify = verify_peer\n",
			"listener.ssl.external: verify = verify_peer needs cacertfile"},
		{base + "listener.ssl.external.certfile = " + f(certgen.Files.Cert) + "\nlistener.ssl.external.ciphers = DHE-RSA-AES128-SHA\nlistener.ssl.external.tls_versions = tlsv1.2\n",
			"listener.ssl.external: ciphers: none of the suites listed is implemented"},
	} {
		c, _, err := config.Parse("test.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := FromConfig(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
