package transport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"fmt"

	"github.com/emqgo/emqgo/engine/transport/osslsign"
)

// The values of crypto_backend (TLSOptions.CryptoBackend): what computes the signatures made
// with a listener's RSA private key, one per full handshake.
const (
	// BackendAuto (the default, also ""): OpenSSL when libcrypto.so.3 loads and its self-test
	// signature with the key verifies, else Go.
	BackendAuto = "auto"
	// BackendOpenSSL: OpenSSL, and a key it cannot take (library missing, self-test failing)
	// is an error.
	BackendOpenSSL = "openssl"
	// BackendGo: Go's crypto/rsa.
	BackendGo = "go"
)

// newOpenSSLSigner is osslsign.New; tests replace it to play a missing library.
var newOpenSSLSigner = osslsign.New

// keyBackend is what signs with a loaded certificate's key.
type keyBackend struct {
	signer *osslsign.Signer // nil when Go signs
	desc   string           // for the log, e.g. "openssl (OpenSSL 3.0.19 27 Jan 2026)"
}

// close frees the OpenSSL copy of the key, if any (the certificate is no longer served).
func (k keyBackend) close() {
	if k.signer != nil {
		k.signer.Close()
	}
}

// useBackend makes pair's RSA private key sign through OpenSSL when backend asks for it and
// OpenSSL can: pair.PrivateKey is then an *osslsign.Signer. An error only with BackendOpenSSL,
// naming why OpenSSL cannot sign with the key.
func useBackend(pair *tls.Certificate, backend string) (keyBackend, error) {
	switch backend {
	case "", BackendAuto, BackendOpenSSL, BackendGo:
	default:
		return keyBackend{}, fmt.Errorf("crypto_backend: %q is not one of auto, openssl, go", backend)
	}
	key, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return keyBackend{desc: "go (" + keyKind(pair.PrivateKey) + " key; crypto_backend applies to RSA keys)"}, nil
	}
	if backend == BackendGo {
		return keyBackend{desc: "go (crypto_backend = go)"}, nil
	}
	s, err := newOpenSSLSigner(key)
	if err != nil {
		if backend == BackendOpenSSL {
			return keyBackend{}, fmt.Errorf("crypto_backend = openssl: OpenSSL (%s) cannot sign with the RSA key: %w", osslsign.LibraryName, err)
		}
		return keyBackend{desc: "go (OpenSSL not used: " + err.Error() + ")"}, nil
	}
	pair.PrivateKey = s
	return keyBackend{signer: s, desc: "openssl (" + osslsign.Version() + ")"}, nil
}

// keyKind names the type of a private key for the log.
func keyKind(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}
