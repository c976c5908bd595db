// Package testpki writes the certificates the backend tests need: a CA of its own, a server
// certificate for 127.0.0.1 and localhost, and a client certificate, all signed by the CA and
// valid for a day, with ECDSA P-256 keys in PKCS #8. For tests only; safe for concurrent use.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// Files name what Write wrote in its directory.
const (
	CAFile         = "ca.pem"
	CertFile       = "cert.pem" // the server's
	KeyFile        = "key.pem"
	ClientCertFile = "client.pem"
	ClientKeyFile  = "client-key.pem"
)

// PKI is a written set of certificates.
type PKI struct {
	Dir    string
	CA     *x509.Certificate
	Client tls.Certificate // the client's certificate and key, for a tls.Config
}

// Write writes the CA, the server's certificate and key, and a client certificate whose
// subject is client, into dir.
func Write(dir string, client pkix.Name) (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "emqgo test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, CA: ca}
	if err := writePEM(filepath.Join(dir, CAFile), "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, server bool, certFile, keyFile string) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(filepath.Join(dir, certFile), "CERTIFICATE", der); err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(filepath.Join(dir, keyFile), "PRIVATE KEY", keyDER); err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
	}
	if _, err := issue(2, pkix.Name{CommonName: "127.0.0.1"}, x509.ExtKeyUsageServerAuth, true, CertFile, KeyFile); err != nil {
		return nil, err
	}
	if p.Client, err = issue(3, client, x509.ExtKeyUsageClientAuth, false, ClientCertFile, ClientKeyFile); err != nil {
		return nil, err
	}
	return p, nil
}

func writePEM(name, typ string, der []byte) error {
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	return nil
}

// Path returns the path of one of the files (CAFile, CertFile...).
func (p *PKI) Path(file string) string { return filepath.Join(p.Dir, file) }

// ClientTLS is a client configuration that trusts the CA, expects the server's name
// 127.0.0.1 and presents no certificate; add p.Client to present one.
func (p *PKI) ClientTLS() *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.CA)
	return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
