package transport_test

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// peerFiles writes a peer certificate for 127.0.0.1 issued by ca into dir/name-*.pem.
func peerFiles(t *testing.T, dir, name string, ca *certgen.Pair) transport.TLSOptions {
	t.Helper()
	p, err := ca.Issue(certgen.Options{CommonName: name, Peer: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	o := transport.TLSOptions{CertFile: filepath.Join(dir, name+"-cert.pem"), KeyFile: filepath.Join(dir, name+"-key.pem"),
		CACertFile: filepath.Join(dir, name+"-ca.pem"), VerifyPeer: true, FailIfNoPeerCert: true, Depth: 10}
	if err := p.Write(o.CertFile, o.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(o.CACertFile, filepath.Join(dir, name+"-ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	return o
}

// handshake runs a handshake over a real loopback socket: a dials b, both with their
// PeerTLS configuration. It returns each side's error.
func handshake(t *testing.T, a, b *tls.Config) (dialErr, acceptErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		s := tls.Server(c, b)
		err = s.Handshake()
		if err == nil {
			_, err = s.Read(make([]byte, 1)) // TLS 1.3: the client's certificate is checked here
		}
		done <- err
	}()
	cfg := a.Clone()
	cfg.ServerName = "127.0.0.1"
	c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err == nil {
		_, err = c.Write([]byte{1})
		if err == nil {
			_, err = c.Read(make([]byte, 1)) // the acceptor's alert, if it refuses
			if err != nil && strings.Contains(err.Error(), "EOF") {
				err = nil
			}
		}
		c.Close()
	}
	return err, <-done
}

func TestPeerTLSMutual(t *testing.T) {
	dir := t.TempDir()
	ca, err := certgen.NewCA("cluster CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := certgen.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	build := func(o transport.TLSOptions) *tls.Config {
		t.Helper()
		cfg, _, err := transport.PeerTLS(o)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := build(peerFiles(t, dir, "a", ca))
	b := build(peerFiles(t, dir, "b", ca))
	if de, ae := handshake(t, a, b); de != nil || ae != nil {
		t.Fatalf("same CA: dial %v, accept %v", de, ae)
	}
	// A peer of another CA: refused by the acceptor (its certificate) and refused by itself
	// (the acceptor's certificate is not of its CA).
	x := build(peerFiles(t, dir, "x", other))
	de, ae := handshake(t, x, b)
	if de == nil || ae == nil || !strings.Contains(ae.Error(), "unknown authority") && !strings.Contains(de.Error(), "unknown authority") {
		t.Fatalf("other CA dialling: dial %v, accept %v", de, ae)
	}
	if de, _ := handshake(t, b, x); de == nil || !strings.Contains(de.Error(), "unknown authority") {
		t.Fatalf("dialling a peer of another CA: %v", de)
	}
	// Without verification both ends accept anything.
	xo := peerFiles(t, dir, "x2", other)
	xo.VerifyPeer, xo.FailIfNoPeerCert = false, false
	bo := peerFiles(t, dir, "b2", ca)
	bo.VerifyPeer, bo.FailIfNoPeerCert = false, false
	if de, ae := handshake(t, build(xo), build(bo)); de != nil || ae != nil {
		t.Fatalf("verify_none: dial %v, accept %v", de, ae)
	}
	if _, _, err := transport.PeerTLS(transport.TLSOptions{VerifyPeer: true}); err == nil || !strings.Contains(err.Error(), "certfile") {
		t.Fatalf("no certificate: %v", err)
	}
}
