package osslsign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// One RSA-2048 PSS SHA-256 signature (TLS 1.3's CertificateVerify), by OpenSSL through the
// Signer and by Go's crypto/rsa: the gap is what a full handshake with an RSA certificate
// saves.
func BenchmarkSignPSS(b *testing.B) {
	d := digestOf(crypto.SHA256)
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	b.Run("openssl", func(b *testing.B) {
		s := newSigner(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, d, opts); err != nil {
				b.Fatal(err)
			}
		}
		if s.Failures() != 0 {
			b.Fatalf("%d failures", s.Failures())
		}
	})
	b.Run("go", func(b *testing.B) {
		key := testKey()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, d, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}
