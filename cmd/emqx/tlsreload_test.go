package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// writeFixedStamp writes b padded to 4 KiB with a fixed modification time, so that the
// on-disk watch sees no change and only a restart reads the new contents.
func writeFixedStamp(t *testing.T, name string, b []byte) {
	t.Helper()
	b = append(bytes.Clone(b), bytes.Repeat([]byte{'\n'}, 4096-len(b))...)
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(name, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

// `emqx_ctl listeners restart ssl:external` re-reads the certificate files: new clients get
// the new certificate, a client connected before stays connected; a broken certificate makes
// the restart fail with the file named and leaves the previous one in use.
func TestCtlRestartReloadsTLS(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "certs")
	if err := set.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, certgen.Files.Cert), filepath.Join(dir, certgen.Files.Key)
	writeFixedStamp(t, cert, set.Server.CertPEM)
	writeFixedStamp(t, key, set.Server.KeyPEM)
	env, _ := nodeEnv(t, work)
	tlsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	env = append(env, "EMQX_LISTENER__SSL__EXTERNAL="+tlsAddr, "EMQX_LISTENER__SSL__EXTERNAL__CERTFILE="+cert,
		"EMQX_LISTENER__SSL__EXTERNAL__KEYFILE="+key, "EMQX_LISTENER__WSS__EXTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WSS__EXTERNAL__CERTFILE="+cert, "EMQX_LISTENER__WSS__EXTERNAL__KEYFILE="+key)
	foreground(t, emqx, work, env)

	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	dial := func() *tls.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	serial := func() string {
		t.Helper()
		c := dial()
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	// A client that stays connected: CONNECT, CONNACK.
	old := dial()
	defer old.Close()
	if _, err := old.Write([]byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'o', 'l'}); err != nil {
		t.Fatal(err)
	}
	_ = old.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ack [4]byte
	if _, err := old.Read(ack[:]); err != nil || ack[0] != 0x20 {
		t.Fatalf("CONNACK: % x %v", ack, err)
	}

	fresh, err := set.CA.Issue(certgen.ServerOptions())
	if err != nil {
		t.Fatal(err)
	}
	writeFixedStamp(t, cert, fresh.CertPEM)
	writeFixedStamp(t, key, fresh.KeyPEM)
	if out, code := run(t, work, env, ctl, "listeners", "restart", "ssl:external"); code != 0 || out != "Restarted mqtt:ssl:external listener successfully.\n" {
		t.Fatalf("listeners restart: exit %d %q", code, out)
	}
	if got := serial(); got != fresh.Cert.SerialNumber.String() {
		t.Fatalf("after the restart: certificate %s, want the new one %s", got, fresh.Cert.SerialNumber)
	}
	// The old connection still answers: PINGREQ, PINGRESP.
	if _, err := old.Write([]byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	_ = old.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(ack[:2]); err != nil || ack[0] != 0xd0 {
		t.Fatalf("PINGRESP on the connection made before the restart: % x %v", ack[:2], err)
	}

	writeFixedStamp(t, cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	out, code := run(t, work, env, ctl, "listeners", "restart", "ssl:external")
	if code != 1 || !strings.Contains(out, "Failed to restart mqtt:ssl:external listener") || !strings.Contains(out, cert) {
		t.Fatalf("restart with a broken certificate: exit %d %q, want a failure naming %s", code, out, cert)
	}
	if got := serial(); got != fresh.Cert.SerialNumber.String() {
		t.Fatalf("after the failed restart: certificate %s, want %s still", got, fresh.Cert.SerialNumber)
	}
}
