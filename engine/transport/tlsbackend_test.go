package transport

import (
	"bufio"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/transport/certgen"
	"github.com/emqgo/emqgo/engine/transport/osslsign"
)

// rsaFiles writes a CA and an RSA-2048 server certificate for 127.0.0.1/localhost into a
// temporary directory: the CA file, the certificate and key files, and the CA's pool.
type rsaFiles struct {
	ca, cert, key string
	pool          *x509.CertPool
	issuer        *certgen.Pair
}

func newRSAFiles(t *testing.T) *rsaFiles {
	t.Helper()
	ca, err := certgen.NewCA("rsa test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &rsaFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"),
		pool: x509.NewCertPool(), issuer: ca}
	f.pool.AddCert(ca.Cert)
	if err := os.WriteFile(f.ca, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	f.issue(t, true)
	return f
}

// issue writes a new server certificate and key, RSA or ECDSA.
func (f *rsaFiles) issue(t *testing.T, rsaKey bool) {
	t.Helper()
	o := certgen.ServerOptions()
	o.RSA = rsaKey
	p, err := f.issuer.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f.cert, f.key); err != nil {
		t.Fatal(err)
	}
}

// needLibcrypto skips without libcrypto.so.3 (fails in CI, where tools/ci/deps.sh installs it).
func needLibcrypto(t *testing.T) {
	t.Helper()
	if err := osslsign.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto.so.3 is needed (Debian package libssl3, with openssl): %v", err)
		}
		t.Skipf("no OpenSSL 3 libcrypto: %v", err)
	}
}

// currentSigner returns the OpenSSL signer of s's current certificate, nil when Go signs.
func currentSigner(s *TLSServer) *osslsign.Signer {
	sg, _ := s.cur.Load().Certificates[0].PrivateKey.(*osslsign.Signer)
	return sg
}

// serveTLS accepts TLS connections with s's configuration until the test ends and answers
// each line with "echo:" and the line.
func serveTLS(t *testing.T, s *TLSServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := tls.Server(nc, s.Config())
				defer c.Close() // with close_notify: s_client counts an EOF without it as an error
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("echo:" + line))
			}()
		}
	}()
	return ln.Addr().String()
}

// goHandshake dials addr with Go's client at TLS version v, checks the echo, and checks
// that the server's key is RSA, or ECDSA after an ECDSA certificate (wantRSA false).
func goHandshake(t *testing.T, addr string, pool *x509.CertPool, v uint16) {
	goHandshakeKey(t, addr, pool, v, true)
}

func goHandshakeKey(t *testing.T, addr string, pool *x509.CertPool, v uint16, wantRSA bool) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: v, MaxVersion: v})
	if err != nil {
		t.Fatalf("%s handshake: %v", tls.VersionName(v), err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "echo:hi\n" {
		t.Fatalf("echo %q: %v", line, err)
	}
	if _, ok := c.ConnectionState().PeerCertificates[0].PublicKey.(*rsa.PublicKey); ok != wantRSA {
		t.Fatalf("the server's key is %T", c.ConnectionState().PeerCertificates[0].PublicKey)
	}
}

// Real handshakes, Go's client (TLS 1.3 and 1.2) and openssl s_client (TLS 1.2 with PKCS #1
// v1.5 and with PSS, TLS 1.3 with each PSS hash), against an RSA certificate: with auto, OpenSSL
// makes each handshake's signature; with go, Go does.
func TestRSAHandshakesSignedByOpenSSL(t *testing.T) {
	needLibcrypto(t)
	f := newRSAFiles(t)
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, ReuseSessions: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CryptoBackend(); !strings.HasPrefix(d, "openssl (OpenSSL 3.") {
		t.Fatalf("backend %q", d)
	}
	sg := currentSigner(s)
	if sg == nil {
		t.Fatal("auto: the RSA key is not OpenSSL's")
	}
	addr := serveTLS(t, s)
	goHandshake(t, addr, f.pool, tls.VersionTLS13)
	goHandshake(t, addr, f.pool, tls.VersionTLS12)
	if n := sg.Signed(); n != 2 {
		t.Fatalf("OpenSSL made %d signatures for 2 full handshakes", n)
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not found (tools/ci/deps.sh installs it)")
		}
		t.Skip("openssl not found")
	}
	for _, c := range []struct{ version, sigalg, want string }{
		{"-tls1_2", "RSA+SHA256", "Peer signature type: RSA\n"},
		{"-tls1_2", "RSA+SHA512", "Peer signature type: RSA\n"},
		{"-tls1_2", "rsa_pss_rsae_sha256", "Peer signature type: RSA-PSS"},
		{"-tls1_3", "rsa_pss_rsae_sha256", "Peer signature type: RSA-PSS"},
		{"-tls1_3", "rsa_pss_rsae_sha384", "Peer signature type: RSA-PSS"},
		{"-tls1_3", "rsa_pss_rsae_sha512", "Peer signature type: RSA-PSS"},
	} {
		before := sg.Signed()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, c.version, "-sigalgs", c.sigalg,
			"-CAfile", f.ca, "-verify_return_error", "-servername", "localhost")
		cmd.Stdin = strings.NewReader("hi\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
			t.Fatalf("s_client %s -sigalgs %s: %v\n%s", c.version, c.sigalg, err, out)
		}
		if sg.Signed() != before+1 {
			t.Fatalf("s_client %s -sigalgs %s: not signed by OpenSSL", c.version, c.sigalg)
		}
	}
	if sg.Failures() != 0 {
		t.Fatalf("%d OpenSSL failures", sg.Failures())
	}
}

// crypto_backend = go keeps Go's key, and the handshakes work.
func TestRSABackendGo(t *testing.T) {
	f := newRSAFiles(t)
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, CryptoBackend: BackendGo})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.cur.Load().Certificates[0].PrivateKey.(*rsa.PrivateKey); !ok || s.CryptoBackend() != "go (crypto_backend = go)" {
		t.Fatalf("backend %q, key %T", s.CryptoBackend(), s.cur.Load().Certificates[0].PrivateKey)
	}
	addr := serveTLS(t, s)
	goHandshake(t, addr, f.pool, tls.VersionTLS13)
	goHandshake(t, addr, f.pool, tls.VersionTLS12)
}

// Without a usable libcrypto, auto falls back to Go and says why; openssl refuses to start,
// naming the library. An unknown value is an error.
func TestRSABackendWithoutLibcrypto(t *testing.T) {
	f := newRSAFiles(t)
	defer func(orig func(*rsa.PrivateKey) (*osslsign.Signer, error)) { newOpenSSLSigner = orig }(newOpenSSLSigner)
	newOpenSSLSigner = func(*rsa.PrivateKey) (*osslsign.Signer, error) {
		return nil, errors.New("cannot load libcrypto.so.3: libcrypto.so.3: cannot open shared object file")
	}
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CryptoBackend(); !strings.HasPrefix(d, "go (OpenSSL not used: cannot load libcrypto.so.3") {
		t.Fatalf("backend %q", d)
	}
	goHandshake(t, serveTLS(t, s), f.pool, tls.VersionTLS13)
	_, _, err = NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, CryptoBackend: BackendOpenSSL})
	if err == nil || !strings.Contains(err.Error(), "crypto_backend = openssl") || !strings.Contains(err.Error(), "libcrypto.so.3") {
		t.Fatalf("openssl without the library: %v", err)
	}
	if _, _, err = NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, CryptoBackend: "boringssl"}); err == nil || !strings.Contains(err.Error(), `"boringssl"`) {
		t.Fatalf("unknown backend: %v", err)
	}
}

// A key OpenSSL's self-test rejects falls back to Go (auto) cleanly: the handshakes work.
func TestRSARejectedKeyFallsBack(t *testing.T) {
	needLibcrypto(t)
	f := newRSAFiles(t)
	defer func(orig func(*rsa.PrivateKey) (*osslsign.Signer, error)) { newOpenSSLSigner = orig }(newOpenSSLSigner)
	other := newRSAFiles(t)
	pair, err := tls.LoadX509KeyPair(other.cert, other.key)
	if err != nil {
		t.Fatal(err)
	}
	newOpenSSLSigner = func(k *rsa.PrivateKey) (*osslsign.Signer, error) {
		bad := *k
		bad.PublicKey = pair.PrivateKey.(*rsa.PrivateKey).PublicKey // another key's modulus
		return osslsign.New(&bad)
	}
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CryptoBackend(); !strings.Contains(d, "self-test") || currentSigner(s) != nil {
		t.Fatalf("backend %q", d)
	}
	goHandshake(t, serveTLS(t, s), f.pool, tls.VersionTLS13)
}

// Replacing the certificate (Reload, or a change on disk) frees the previous key's OpenSSL
// copy, and the new key is OpenSSL's; an ECDSA key is Go's whatever the backend.
func TestRSAReloadReplacesSigner(t *testing.T) {
	needLibcrypto(t)
	f := newRSAFiles(t)
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, CryptoBackend: BackendOpenSSL})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s)
	first := currentSigner(s)
	f.issue(t, true)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	second := currentSigner(s)
	if first == nil || second == nil || second == first || !first.Closed() || second.Closed() {
		t.Fatalf("signers %p (closed %v) → %p", first, first.Closed(), second)
	}
	goHandshake(t, addr, f.pool, tls.VersionTLS13)
	if second.Signed() != 1 {
		t.Fatal("the new key did not sign through OpenSSL")
	}
	f.issue(t, false)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !second.Closed() || currentSigner(s) != nil || !strings.HasPrefix(s.CryptoBackend(), "go (ECDSA key") {
		t.Fatalf("after an ECDSA certificate: %q, closed %v", s.CryptoBackend(), second.Closed())
	}
	goHandshakeKey(t, addr, f.pool, tls.VersionTLS13, false)
}

// TLS 1.2's RSA key exchange (a configured AES128-GCM-SHA256) decrypts with the key: the
// OpenSSL signer hands decryption to Go, and no signature is made.
func TestRSAKeyExchangeWithOpenSSLSigner(t *testing.T) {
	needLibcrypto(t)
	f := newRSAFiles(t)
	s, _, err := NewTLSServer(TLSOptions{CertFile: f.cert, KeyFile: f.key, Ciphers: []string{"AES128-GCM-SHA256"}, Versions: []string{"tlsv1.2"}})
	if err != nil {
		t.Fatal(err)
	}
	sg := currentSigner(s)
	if sg == nil {
		t.Fatal("the RSA key is not OpenSSL's")
	}
	c, err := tls.Dial("tcp", serveTLS(t, s), &tls.Config{RootCAs: f.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cs := c.ConnectionState().CipherSuite; cs != tls.TLS_RSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("suite %s", tls.CipherSuiteName(cs))
	}
	if _, err := c.Write([]byte("kx\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "echo:kx\n" {
		t.Fatalf("echo %q: %v", line, err)
	}
	if sg.Signed() != 0 {
		t.Fatal("an RSA key exchange made a signature")
	}
}
