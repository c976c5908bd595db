package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testCert returns a self-signed certificate for 127.0.0.1 and the path of its PEM file.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "emqx_bench test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// tlsFront terminates TLS on a free loopback port and forwards each connection to backend.
func tlsFront(t *testing.T, cert tls.Certificate, backend string) string {
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
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			go pumpStream(b, c)
		}
	}()
	return ln.Addr().String()
}

// wsFront serves MQTT over WebSocket (path /mqtt, subprotocol mqtt) on a free loopback port,
// with TLS when cert is given, forwarding each connection to backend. It counts the
// connections that negotiated the mqtt subprotocol.
func wsFront(t *testing.T, cert *tls.Certificate, backend string, negotiated *atomic.Int32) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/mqtt", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if ws.Subprotocol() == "mqtt" {
			negotiated.Add(1)
		}
		b, err := net.Dial("tcp", backend)
		if err != nil {
			ws.Close()
			return
		}
		pumpWebSocket(ws, b)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// The tls, ws and wss transports carry the same runs as tcp: against the echo sink behind a
// TLS terminator and a WebSocket server, every message comes back exactly once.
func TestTransports(t *testing.T) {
	sink := startSink(t, true)
	cert, caFile := testCert(t)
	var negotiated atomic.Int32
	fronts := map[string]string{
		"tls": tlsFront(t, cert, sink),
		"ws":  wsFront(t, nil, sink, &negotiated),
		"wss": wsFront(t, &cert, sink, &negotiated),
	}
	for _, transport := range []string{"tls", "ws", "wss"} {
		t.Run(transport, func(t *testing.T) {
			o := defaultOptions("echo")
			o.Broker, o.Transport, o.CAFile = fronts[transport], transport, caFile
			o.Pubs, o.QoS, o.SubQoS, o.Count, o.Loops, o.Progress = 3, 1, 1, 300, 2, false
			o.Size = 2000
			o.Duration, o.Drain, o.Timeout = 5*time.Second, 2*time.Second, 5*time.Second
			if err := o.validate(); err != nil {
				t.Fatal(err)
			}
			res, err := newRunner(o, io.Discard).run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Connected != 3 || res.Delivered != 900 || res.Lost != 0 || res.Duplicates != 0 || res.Acked != 900 {
				t.Fatalf("%+v", res)
			}
		})
	}
	if negotiated.Load() != 6 {
		t.Fatalf("%d WebSocket connections negotiated the mqtt subprotocol, want 6", negotiated.Load())
	}
	// Without the CA (and without -insecure) the broker's certificate is refused.
	o := defaultOptions("echo")
	o.Broker, o.Transport, o.Pubs, o.Count, o.Progress, o.Timeout = fronts["tls"], "tls", 1, 10, false, 2*time.Second
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(o, io.Discard).run(context.Background())
	if err == nil && res.Connected != 0 {
		t.Fatalf("connected to an unknown certificate authority: %+v", res)
	}
}
