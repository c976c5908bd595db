package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/httpapi"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// TestHTTPSAPIFromConf: management.listener.https and its TLS keys serve the API over TLS with
// the listeners' TLS builder: a client certificate is required (verify_peer,
// fail_if_no_peer_cert), tls_versions bounds the versions, and the API answers over it.
func TestHTTPSAPIFromConf(t *testing.T) {
	dir, set := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	conf := `
listener.tcp.external = 127.0.0.1:0
management.listener.http = 127.0.0.1:0
management.listener.https = 127.0.0.1:0
management.listener.https.keyfile = ` + f(certgen.Files.Key) + `
management.listener.https.certfile = ` + f(certgen.Files.Cert) + `
management.listener.https.cacertfile = ` + f(certgen.Files.CACert) + `
management.listener.https.verify = verify_peer
management.listener.https.fail_if_no_peer_cert = true
management.listener.https.tls_versions = tlsv1.2
management.listener.https.max_clients = 7
`
	c, _, err := config.Parse("test.conf", []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts, ok := HTTPAPI(c, nil)
	if !ok {
		t.Fatal("no API")
	}
	https, notes, err := HTTPSAPI(c)
	if err != nil || https == nil || len(notes) != 0 || https.MaxClients != 7 || https.Network != "tcp4" {
		t.Fatalf("HTTPSAPI: %+v %v %v", https, notes, err)
	}
	opts.HTTPS = https
	api, err := httpapi.Start(startConf(t, conf), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		api.Stop(ctx)
	})

	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	clientCert := tls.Certificate{Certificate: [][]byte{set.Client.Cert.Raw}, PrivateKey: set.Client.Key}
	get := func(cfg *tls.Config) (int, string, error) {
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+api.HTTPSAddr()+"/api/v4/brokers", nil)
		req.SetBasicAuth("admin", "public")
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	status, body, err := get(&tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}})
	if err != nil || status != http.StatusOK || !strings.Contains(body, `"code":0`) {
		t.Fatalf("with a client certificate: %d %s %v", status, body, err)
	}
	if _, _, err := get(&tls.Config{RootCAs: pool, ServerName: "localhost"}); err == nil {
		t.Fatal("served a client without a certificate (fail_if_no_peer_cert)")
	}
	if _, _, err := get(&tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS13}); err == nil {
		t.Fatal("served TLS 1.3 with tls_versions = tlsv1.2")
	}
	// The plain listener serves too.
	resp, err := http.Get("http://" + api.Addr() + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("plain /metrics: %v %v", resp, err)
	}
	resp.Body.Close()

	// Errors name the key.
	bad, _, err := config.Parse("test.conf", []byte("management.listener.https = 127.0.0.1:0\nmanagement.listener.https.certfile = "+f(certgen.Files.Cert)+
		"\nmanagement.listener.https.keyfile = "+f(certgen.Files.Key)+"\nmanagement.listener.https.verify = verify_peer\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := HTTPSAPI(bad); err == nil || !strings.Contains(err.Error(), "management.listener.https") || !strings.Contains(err.Error(), "cacertfile") {
		t.Fatalf("verify_peer without cacertfile: %v", err)
	}
	nokey, _, _ := config.Parse("test.conf", []byte("management.listener.https = 127.0.0.1:0\n"), nil)
	if _, _, err := HTTPSAPI(nokey); err == nil || !strings.Contains(err.Error(), "keyfile") {
		t.Fatalf("no keyfile: %v", err)
	}
}
