// Package certgen makes the certificates of a demo or test TLS set-up: a CA, a server
// certificate for 127.0.0.1, ::1 and localhost, a client certificate, an expired client
// certificate and one from another CA (untrusted). tools/certgen writes them under etc/certs/
// for `make run`; tests generate them in a temporary directory. Keys are ECDSA P-256
// (RSA-2048 on request, Options.RSA).
//
// Nothing here is for production: the keys are written unencrypted.
package certgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Pair is a certificate and its private key, parsed and PEM-encoded.
type Pair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Options describe one certificate.
type Options struct {
	CommonName   string
	Organization string
	Server       bool // server authentication, with DNSNames and IPs as subject alternative names
	Peer         bool // server and client authentication (a cluster node), with the same names
	DNSNames     []string
	IPs          []net.IP
	NotBefore    time.Time // zero: an hour ago
	NotAfter     time.Time // zero: NotBefore + 10 years
	RSA          bool      // an RSA-2048 key instead of ECDSA P-256 (handshake benchmarks)
}

// NewCA returns a self-signed CA certificate.
func NewCA(cn string) (*Pair, error) {
	return issue(Options{CommonName: cn, Organization: "emqgo demo"}, nil, true)
}

// Issue returns a certificate signed by ca.
func (ca *Pair) Issue(o Options) (*Pair, error) { return issue(o, ca, false) }

func issue(o Options, parent *Pair, isCA bool) (*Pair, error) {
	var key crypto.Signer
	var err error
	if o.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("certgen: key for %q: %w", o.CommonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("certgen: serial: %w", err)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = o.NotBefore.AddDate(10, 0, 0)
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.CommonName},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     o.DNSNames,
		IPAddresses:  o.IPs,
	}
	if o.RSA {
		tpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if o.Organization != "" {
		tpl.Subject.Organization = []string{o.Organization}
	}
	switch {
	case isCA:
		tpl.IsCA, tpl.BasicConstraintsValid = true, true
		tpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case o.Peer:
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	case o.Server:
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, parentCert := key, tpl
	if parent != nil {
		signer, parentCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate %q: %w", o.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Pair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Set is a demo set of certificates.
type Set struct {
	CA        *Pair // signs Server, Client and Expired
	Server    *Pair // CN localhost; SANs localhost, 127.0.0.1, ::1
	Client    *Pair // CN client1, O emqgo demo
	Expired   *Pair // a client certificate that expired yesterday
	Untrusted *Pair // a client certificate of another CA
}

// Generate makes a new Set.
func Generate() (*Set, error) {
	var s Set
	var err error
	if s.CA, err = NewCA("emqgo demo CA"); err != nil {
		return nil, err
	}
	if s.Server, err = s.CA.Issue(ServerOptions()); err != nil {
		return nil, err
	}
	if s.Client, err = s.CA.Issue(Options{CommonName: "client1", Organization: "emqgo demo"}); err != nil {
		return nil, err
	}
	day := 24 * time.Hour
	if s.Expired, err = s.CA.Issue(Options{CommonName: "expired", NotBefore: time.Now().Add(-30 * day), NotAfter: time.Now().Add(-day)}); err != nil {
		return nil, err
	}
	other, err := NewCA("another CA")
	if err != nil {
		return nil, err
	}
	if s.Untrusted, err = other.Issue(Options{CommonName: "untrusted"}); err != nil {
		return nil, err
	}
	return &s, nil
}

// ServerOptions are the options of a server certificate for the local host.
func ServerOptions() Options {
	return Options{CommonName: "localhost", Organization: "emqgo demo", Server: true,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
}

// Files are the names WriteDir gives each certificate and key (EMQX's etc/certs names).
var Files = struct {
	CACert, CAKey, Cert, Key, ClientCert, ClientKey, ExpiredCert, ExpiredKey, UntrustedCert, UntrustedKey string
}{
	"cacert.pem", "cacert-key.pem", "cert.pem", "key.pem", "client-cert.pem", "client-key.pem",
	"expired-cert.pem", "expired-key.pem", "untrusted-cert.pem", "untrusted-key.pem",
}

// WriteDir writes the set into dir (created if missing): certificates mode 0644, keys 0600.
func (s *Set) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range []struct {
		pair      *Pair
		cert, key string
	}{
		{s.CA, Files.CACert, Files.CAKey},
		{s.Server, Files.Cert, Files.Key},
		{s.Client, Files.ClientCert, Files.ClientKey},
		{s.Expired, Files.ExpiredCert, Files.ExpiredKey},
		{s.Untrusted, Files.UntrustedCert, Files.UntrustedKey},
	} {
		if err := p.pair.Write(filepath.Join(dir, p.cert), filepath.Join(dir, p.key)); err != nil {
			return err
		}
	}
	return nil
}

// Write writes the certificate and the key (mode 0600) to the two files, each replaced
// atomically (written beside, then renamed), so that a reader never sees half a file.
func (p *Pair) Write(certFile, keyFile string) error {
	if err := writeAtomic(keyFile, p.KeyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, p.CertPEM, 0o644)
}

func writeAtomic(name string, b []byte, mode os.FileMode) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	return nil
}
