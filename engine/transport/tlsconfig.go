package transport

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// TLSOptions are a TLS listener's settings (EMQX's listener.ssl.<name>.* keys).
type TLSOptions struct {
	CertFile, KeyFile string // PEM; reloaded when they change on disk (see TLSServer)
	KeyPassword       string // for a key encrypted in the legacy PEM format ("Proc-Type: 4,ENCRYPTED")
	CACertFile        string // CAs that sign client certificates; reloaded like CertFile
	VerifyPeer        bool   // verify = verify_peer: a client certificate, when sent, must verify
	FailIfNoPeerCert  bool   // with VerifyPeer: a client certificate is required
	Depth             int    // most intermediate certificates between a client's and the CA; < 0: no limit
	Versions          []string
	Ciphers           []string // OpenSSL names; empty: Go's defaults
	ReuseSessions     bool     // session tickets (resumption)
	// CryptoBackend (crypto_backend) chooses what signs with an RSA key: BackendAuto ("" too),
	// BackendOpenSSL or BackendGo (tlsbackend.go).
	CryptoBackend string

	// OnReload, when set, is called (on a handshake's goroutine) after the certificate or CA
	// files changed on disk: with nil once the new files are in use, or with why they were
	// not loaded (the previous configuration stays in use). TLSServer.Reload does not call it:
	// its caller gets the error.
	OnReload func(err error)
}

var versionOf = map[string]uint16{"tlsv1": tls.VersionTLS10, "tlsv1.1": tls.VersionTLS11, "tlsv1.2": tls.VersionTLS12, "tlsv1.3": tls.VersionTLS13}

// buildServerTLS builds one immutable server configuration from o, reading the files now.
// notes lists settings that were accepted but are not applied exactly as written (cipher
// names Go lacks, TLS 1.3 suites, a gap in the versions), for the node to log once. key says
// what signs with the certificate's key (o.CryptoBackend); whoever replaces cfg by a newer
// one closes it. Errors name the setting at fault.
func buildServerTLS(o TLSOptions) (cfg *tls.Config, notes []string, key keyBackend, err error) {
	pair, err := loadPair(o.CertFile, o.KeyFile, o.KeyPassword)
	if err != nil {
		return nil, nil, key, err
	}
	if key, err = useBackend(pair, o.CryptoBackend); err != nil {
		return nil, nil, key, err
	}
	defer func() {
		if err != nil {
			key.close()
		}
	}()
	cfg = &tls.Config{
		Certificates:           []tls.Certificate{*pair},
		SessionTicketsDisabled: !o.ReuseSessions,
	}
	if len(o.Versions) > 0 {
		var vs []uint16
		for _, v := range o.Versions {
			id, ok := versionOf[strings.ToLower(strings.TrimSpace(v))]
			if !ok {
				return nil, nil, key, fmt.Errorf("tls_versions: %q is not one of tlsv1, tlsv1.1, tlsv1.2, tlsv1.3", v)
			}
			vs = append(vs, id)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
		cfg.MinVersion, cfg.MaxVersion = vs[0], vs[len(vs)-1]
		for i := 1; i < len(vs); i++ {
			if vs[i]-vs[i-1] > 1 {
				notes = append(notes, "tls_versions: Go's TLS accepts a range of versions, so every version between "+
					tls.VersionName(vs[0])+" and "+tls.VersionName(vs[len(vs)-1])+" is accepted")
				break
			}
		}
	}
	if len(o.Ciphers) > 0 {
		ids, ignored, err := CipherSuites(o.Ciphers)
		if err != nil {
			return nil, nil, key, fmt.Errorf("ciphers: %w", err)
		}
		if len(ignored) > 0 {
			notes = append(notes, "ciphers: not implemented by Go's TLS, ignored: "+strings.Join(ignored, ","))
		}
		if len(ids) == 0 && cfg.MinVersion < tls.VersionTLS13 {
			return nil, nil, key, errors.New("ciphers: none of the suites listed is implemented by Go's TLS (see the README for the names it has)")
		}
		cfg.CipherSuites = ids
		if cfg.MaxVersion == 0 || cfg.MaxVersion >= tls.VersionTLS13 {
			notes = append(notes, "ciphers: TLS 1.3 suites are not configurable in Go's TLS (all three are offered)")
		}
	}
	if o.VerifyPeer {
		if o.CACertFile == "" {
			return nil, nil, key, errors.New("verify = verify_peer needs cacertfile (the CAs that sign client certificates)")
		}
		pem, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, nil, key, fmt.Errorf("cacertfile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, key, fmt.Errorf("cacertfile: no PEM certificate in %s", o.CACertFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.FailIfNoPeerCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if o.Depth >= 0 {
			depth := o.Depth
			cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				for _, ch := range chains {
					if len(ch)-2 <= depth {
						return nil
					}
				}
				if len(chains) == 0 {
					return nil // no certificate sent (allowed without fail_if_no_peer_cert)
				}
				return fmt.Errorf("client certificate chain has more than depth = %d intermediate certificates", depth)
			}
		}
	}
	return cfg, notes, key, nil
}

// decryptKey returns keyPEM with a legacy-encrypted PEM key decrypted with password.
func decryptKey(keyPEM []byte, password string) ([]byte, error) {
	rest := keyPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return keyPEM, nil // not encrypted (or not PEM: X509KeyPair says why)
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("PKCS#8-encrypted keys are not supported; decrypt it (openssl pkey) or use the legacy PEM encryption")
		}
		//lint:ignore SA1019 legacy PEM encryption is what EMQX's key_password reads; it is insecure by design but the format users have
		if !x509.IsEncryptedPEMBlock(b) {
			continue
		}
		if password == "" {
			return nil, errors.New("the key is encrypted: set key_password")
		}
		//lint:ignore SA1019 see above
		der, err := x509.DecryptPEMBlock(b, []byte(password))
		if err != nil {
			return nil, fmt.Errorf("key_password: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}), nil
	}
}
