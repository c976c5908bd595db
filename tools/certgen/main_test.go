package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// TestWritesUsableSet: the files make a working server/client pair, and a second run keeps
// them.
func TestWritesUsableSet(t *testing.T) {
	dir := t.TempDir()
	if run([]string{dir}) != 0 {
		t.Fatal("certgen failed")
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	if _, err := tls.LoadX509KeyPair(f(certgen.Files.Cert), f(certgen.Files.Key)); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(f(certgen.Files.CACert))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no CA")
	}
	pair, _ := tls.LoadX509KeyPair(f(certgen.Files.Cert), f(certgen.Files.Key))
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if fi, _ := os.Stat(f(certgen.Files.Key)); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", fi.Mode())
	}
	before, _ := os.ReadFile(f(certgen.Files.Cert))
	if run([]string{dir}) != 0 {
		t.Fatal("second run failed")
	}
	after, _ := os.ReadFile(f(certgen.Files.Cert))
	if string(before) != string(after) {
		t.Fatal("second run replaced the set")
	}
}
