package osslsign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"strings"
	"sync"
	"testing"
)

// testKey is an RSA-2048 key generated once for the package's tests.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// newSigner returns a Signer of testKey, skipping (failing in CI) without libcrypto.so.3.
func newSigner(t testing.TB) *Signer {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto.so.3 is needed (Debian package libssl3): %v", err)
		}
		t.Skipf("no OpenSSL 3 libcrypto: %v", err)
	}
	s, err := New(testKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func digestOf(h crypto.Hash) []byte {
	w := h.New()
	w.Write([]byte("a message to sign"))
	return w.Sum(nil)
}

// Every signature OpenSSL makes for crypto/tls verifies with Go's crypto/rsa.
func TestOpenSSLSignaturesVerify(t *testing.T) {
	s := newSigner(t)
	pub := &testKey().PublicKey
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, h.Size()} {
			opts := &rsa.PSSOptions{SaltLength: salt, Hash: h}
			d := digestOf(h)
			if _, ok := s.params(d, opts); !ok {
				t.Fatalf("PSS %v salt %d: not signed by OpenSSL", h, salt)
			}
			sig, err := s.Sign(rand.Reader, d, opts)
			if err != nil {
				t.Fatalf("PSS %v: %v", h, err)
			}
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
				t.Errorf("PSS %v salt %d: %v", h, salt, err)
			}
			// A salt of another length would not verify as salt = hash length.
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size() + 1}); err == nil {
				t.Errorf("PSS %v: salt length is not the hash length", h)
			}
		}
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := digestOf(h)
		if _, ok := s.params(d, h); !ok {
			t.Fatalf("PKCS1v15 %v: not signed by OpenSSL", h)
		}
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("PKCS1v15 %v: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
			t.Errorf("PKCS1v15 %v: %v", h, err)
		}
		// PKCS #1 v1.5 is deterministic: OpenSSL's signature is Go's.
		want, _ := rsa.SignPKCS1v15(nil, testKey(), h, d)
		if string(want) != string(sig) {
			t.Errorf("PKCS1v15 %v: OpenSSL's signature differs from Go's", h)
		}
	}
	if n := s.Failures(); n != 0 {
		t.Errorf("%d OpenSSL failures", n)
	}
	if n := s.Signed(); n != 11 {
		t.Errorf("OpenSSL made %d signatures, want 11", n)
	}
}

// What OpenSSL is not asked to sign, Go signs, with Go's answers.
func TestUnsupportedRequestsAreGos(t *testing.T) {
	s := newSigner(t)
	pub := &testKey().PublicKey
	d := digestOf(crypto.SHA256)
	auto := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}
	if _, ok := s.params(d, auto); ok {
		t.Fatal("PSS with the largest salt went to OpenSSL")
	}
	sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(pub, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
		t.Error(err)
	}
	md5sha1 := make([]byte, 36) // TLS 1.0/1.1's RSA signature input
	if _, ok := s.params(md5sha1, crypto.MD5SHA1); ok {
		t.Fatal("MD5+SHA1 went to OpenSSL")
	}
	if _, err := s.Sign(rand.Reader, md5sha1, crypto.MD5SHA1); err != nil {
		t.Error(err)
	}
	// A digest of the wrong length gets Go's error.
	if _, err := s.Sign(rand.Reader, d[:20], crypto.SHA256); err == nil {
		t.Error("a 20-byte SHA-256 digest was signed")
	}
	if n := s.Failures(); n != 0 {
		t.Errorf("%d OpenSSL failures", n)
	}
	if n := s.Signed(); n != 0 {
		t.Errorf("OpenSSL made %d signatures it was not to make", n)
	}
}

// After Close, signatures are Go's and still verify.
func TestClosedSignerSignsWithGo(t *testing.T) {
	s := newSigner(t)
	if s.Closed() {
		t.Fatal("closed at once")
	}
	s.Close()
	s.Close()
	if !s.Closed() {
		t.Fatal("not closed")
	}
	d := digestOf(crypto.SHA256)
	if _, err := s.h.sign(params{rsaPKCS1PSSPadding, s.h.lib.md[crypto.SHA256]}, d, 256); err != errClosed {
		t.Fatalf("closed handle signed: %v", err)
	}
	sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&testKey().PublicKey, crypto.SHA256, d, sig, nil); err != nil {
		t.Error(err)
	}
	if s.Failures() != 0 {
		t.Error("a closed signer counts failures")
	}
}

// A key whose halves do not belong together is refused by New (its self-test), so that the
// caller keeps Go's signer.
func TestInconsistentKeyRefused(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	bad := *testKey()
	bad.PublicKey = other.PublicKey
	s, err := New(&bad)
	if err == nil {
		s.Close()
		t.Fatal("a key with another key's modulus was accepted")
	}
	t.Log(err)
	if _, err := New(&rsa.PrivateKey{}); err == nil {
		t.Fatal("an empty key was accepted")
	}
}

// A library that is not there is an error naming it.
func TestMissingLibrary(t *testing.T) {
	_, err := open("libcrypto.so.999")
	if err == nil || !strings.Contains(err.Error(), "libcrypto.so.999") {
		t.Fatalf("err = %v", err)
	}
}

// Signatures from many goroutines at once all verify.
func TestConcurrentSigning(t *testing.T) {
	s := newSigner(t)
	d := digestOf(crypto.SHA256)
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				sig, err := s.Sign(rand.Reader, d, opts)
				if err == nil {
					err = rsa.VerifyPSS(&testKey().PublicKey, crypto.SHA256, d, sig, opts)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.Failures() != 0 {
		t.Errorf("%d failures", s.Failures())
	}
}
