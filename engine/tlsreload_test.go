package engine

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// writeSameStamp writes b to name padded (PEM ignores trailing blank lines) to a fixed size
// and with a fixed modification time, so that the on-disk watch cannot tell the new contents
// from the old: only a restart of the listener loads them.
func writeSameStamp(t *testing.T, name string, b []byte) {
	t.Helper()
	const size = 4096
	if len(b) > size {
		t.Fatalf("%s: %d bytes, more than %d", name, len(b), size)
	}
	b = append(bytes.Clone(b), bytes.Repeat([]byte{'\n'}, size-len(b))...)
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(name, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

// TestTLSRestartReloadsFiles: emqx_ctl listeners restart re-reads certfile, keyfile and
// cacertfile; new clients see the new certificate and are verified against the new CAs,
// connections made before stay up; files that do not load leave the previous ones in use,
// the restart fails and the log says why.
func TestTLSRestartReloadsFiles(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := newTLSEnv(t, log, func(o *transport.TLSOptions, _ *Listener) {
		o.VerifyPeer, o.FailIfNoPeerCert = true, true
	})
	// Same stamps from now on: the watch sees no change, only a restart reloads.
	writeSameStamp(t, e.file(certgen.Files.Cert), e.set.Server.CertPEM)
	writeSameStamp(t, e.file(certgen.Files.Key), e.set.Server.KeyPEM)
	writeSameStamp(t, e.file(certgen.Files.CACert), e.set.CA.CertPEM)
	if err := e.n.RestartListener("ssl:external"); err != nil {
		t.Fatal(err)
	}

	r := newReceived()
	old, _ := v5TLS(t, e.addr, e.clientTLS(e.set.Client), &paho.Connect{ClientID: "old", CleanStart: true}, r)
	sub5(t, old, "still/up", 0)

	// A new server certificate, and a second CA whose client certificate is refused so far.
	fresh, err := e.set.CA.Issue(certgen.ServerOptions())
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := certgen.NewCA("second CA")
	if err != nil {
		t.Fatal(err)
	}
	client2, err := ca2.Issue(certgen.Options{CommonName: "client2"})
	if err != nil {
		t.Fatal(err)
	}
	e.dialFails(t, e.clientTLS(client2))
	writeSameStamp(t, e.file(certgen.Files.Cert), fresh.CertPEM)
	writeSameStamp(t, e.file(certgen.Files.Key), fresh.KeyPEM)
	writeSameStamp(t, e.file(certgen.Files.CACert), append(bytes.Clone(e.set.CA.CertPEM), ca2.CertPEM...))
	time.Sleep(1100 * time.Millisecond) // past the watch's interval: it looks, and sees nothing
	if got := peerSerial(t, e, e.set.Client); got != e.set.Server.Cert.SerialNumber.String() {
		t.Fatalf("before the restart the server sent certificate %s, want the first one", got)
	}

	if err := e.n.RestartListener("ssl:external"); err != nil {
		t.Fatal(err)
	}
	if got := peerSerial(t, e, e.set.Client); got != fresh.Cert.SerialNumber.String() {
		t.Fatalf("after the restart the server sent certificate %s, want the new one %s", got, fresh.Cert.SerialNumber)
	}
	v5TLS(t, e.addr, e.clientTLS(client2), &paho.Connect{ClientID: "client2", CleanStart: true}, nil)
	pub5(t, old, "still/up", 0, "yes") // the connection made before the restart still works
	r.expectMsg(t, "still/up", "yes")
	if lines := buf.lines(`msg="TLS files reloaded"`); len(lines) != 2 {
		t.Fatalf("log: %q", lines)
	}

	// A broken certificate: the restart fails naming the file, the new pair stays in use.
	writeSameStamp(t, e.file(certgen.Files.Cert), []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	err = e.n.RestartListener("ssl:external")
	if err == nil || !strings.Contains(err.Error(), certgen.Files.Cert) {
		t.Fatalf("restart with a broken certificate: %v, want an error naming the file", err)
	}
	if lines := buf.lines("TLS files not reloaded"); len(lines) != 1 || !strings.Contains(lines[0], certgen.Files.Cert) {
		t.Fatalf("log: %q", lines)
	}
	if got := peerSerial(t, e, e.set.Client); got != fresh.Cert.SerialNumber.String() {
		t.Fatalf("after a failed reload the server sent certificate %s, want %s", got, fresh.Cert.SerialNumber)
	}
	pub5(t, old, "still/up", 0, "again")
	r.expectMsg(t, "still/up", "again")
	// peerSerial's probes close right away; the listener counts them until their close is
	// handled on the loop, so wait for that before checking the count.
	var last ListenerInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		for _, li := range e.n.Listeners() {
			if li.Kind == "ssl" {
				last = li
			}
		}
		if last.Running && last.Connections == 2 && last.ClosedByStop == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssl listener after the restarts: %+v, want running with its 2 connections", last)
		}
	}
}

// peerSerial returns the serial number of the certificate the TLS listener sends.
func peerSerial(t *testing.T, e *tlsEnv, client *certgen.Pair) string {
	t.Helper()
	conn, err := tls.Dial("tcp", e.addr, e.clientTLS(client))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSCAFileWatch: a cacertfile changed on disk is picked up by the next handshakes
// without a restart, like the certificate.
func TestTLSCAFileWatch(t *testing.T) {
	e := newTLSEnv(t, nil, func(o *transport.TLSOptions, _ *Listener) {
		o.VerifyPeer, o.FailIfNoPeerCert = true, true
	})
	ca2, err := certgen.NewCA("second CA")
	if err != nil {
		t.Fatal(err)
	}
	client2, err := ca2.Issue(certgen.Options{CommonName: "client2"})
	if err != nil {
		t.Fatal(err)
	}
	e.dialFails(t, e.clientTLS(client2))
	if err := os.WriteFile(e.file(certgen.Files.CACert), append(bytes.Clone(e.set.CA.CertPEM), ca2.CertPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the second CA to be trusted", func() bool {
		conn, err := tls.Dial("tcp", e.addr, e.clientTLS(client2))
		if err != nil {
			return false
		}
		defer conn.Close()
		// TLS 1.3: a refusal arrives on the first read; an accepted client reads nothing.
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = conn.Read(make([]byte, 1))
		return err != nil && strings.Contains(err.Error(), "timeout")
	})
}
