package main

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// tlsServe serves TLS handshakes with pair on a loopback port until the test ends.
func tlsServe(t *testing.T, pair *certgen.Pair) string {
	t.Helper()
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return tlsServeCert(t, cert)
}

// tlsServeCert serves TLS handshakes with cert (not checked against its key).
func tlsServeCert(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestChainCacheVerifiesLikeCryptoTLS(t *testing.T) {
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	good := tlsServe(t, set.Server)
	other, err := certgen.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherServer, err := other.Issue(certgen.ServerOptions())
	if err != nil {
		t.Fatal(err)
	}
	untrusted := tlsServe(t, otherServer) // right name, another CA
	dial := func(addr, name string) (tls.ConnectionState, error) {
		cc := &chainCache{roots: pool, name: name}
		cfg := &tls.Config{ServerName: name, InsecureSkipVerify: true, VerifyConnection: cc.verify, CurvePreferences: []tls.CurveID{tls.X25519}}
		var cs tls.ConnectionState
		for range 2 { // the second handshake takes the cached verdict
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				return cs, err
			}
			cs = c.ConnectionState()
			c.Close()
		}
		n := 0
		cc.verified.Range(func(any, any) bool { n++; return true })
		if n != 1 {
			t.Errorf("%d chains cached after two handshakes with one server, want 1", n)
		}
		return cs, nil
	}
	cs, err := dial(good, "127.0.0.1")
	if err != nil {
		t.Fatalf("trusted server refused: %v", err)
	}
	if cs.CurveID != tls.X25519 {
		t.Errorf("negotiated %v, want X25519 (the only share offered)", cs.CurveID)
	}
	var n negotiated
	n.note(cs)
	if got := n.String(); !strings.HasPrefix(got, "TLS 1.3 X25519 TLS_") {
		t.Errorf("negotiated note %q", got)
	}
	if _, err := dial(good, "mqtt.example.com"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate for another name: err = %v, want a certificate error", err)
	}
	if _, err := dial(untrusted, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("an untrusted certificate: err = %v, want unknown authority", err)
	}
	// A server that presents the trusted certificate without its key fails the handshake's
	// signature check, which the cache does not skip, even once the chain is cached.
	impostor := tlsServeCert(t, tls.Certificate{Certificate: [][]byte{set.Server.Cert.Raw}, PrivateKey: set.Untrusted.Key})
	cc := &chainCache{roots: pool, name: "127.0.0.1"}
	cfg := &tls.Config{ServerName: "127.0.0.1", InsecureSkipVerify: true, VerifyConnection: cc.verify}
	c, err := tls.Dial("tcp", good, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err := tls.Dial("tcp", impostor, cfg); err == nil {
		c.Close()
		t.Error("a server without the certificate's key was accepted")
	} else if !strings.Contains(err.Error(), "signature") {
		t.Errorf("a server without the certificate's key: err = %v, want a signature error", err)
	}
}

func TestParseCurves(t *testing.T) {
	ids, err := parseCurves("x25519, P256")
	if err != nil || len(ids) != 2 || ids[0] != tls.X25519 || ids[1] != tls.CurveP256 {
		t.Fatalf("parseCurves = %v, %v", ids, err)
	}
	if ids, err := parseCurves("default"); err != nil || ids != nil {
		t.Fatalf("default = %v, %v", ids, err)
	}
	if _, err := parseCurves("x448"); err == nil || !strings.Contains(err.Error(), "x448") {
		t.Fatalf("unknown curve: err = %v", err)
	}
}
