package osslsign

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Signer is an RSA private key whose signatures OpenSSL's libcrypto computes (see the package
// comment for which ones; Go's crypto/rsa signs the others). It is a crypto.Signer and a
// crypto.Decrypter (decryption, TLS 1.2's RSA key exchange, is Go's), so it can stand in a
// tls.Certificate's PrivateKey. Safe for concurrent use; Close may be called at any time, also
// while signatures are under way.
type Signer struct {
	key      *rsa.PrivateKey
	h        *handle
	signed   atomic.Uint64 // signatures made by OpenSSL
	failures atomic.Uint64 // signatures OpenSSL failed to make
}

// handle owns the EVP_PKEY. It is apart from Signer so that the cleanup that frees it when a
// Signer is dropped does not keep the Signer reachable.
type handle struct {
	lib  *libcrypto
	mu   sync.RWMutex // read-held by each signature; write-held to free pkey
	pkey uintptr      // EVP_PKEY*, 0 once freed
}

// errClosed is sign's answer once the EVP_PKEY is freed: Sign then uses Go's signer.
var errClosed = errors.New("osslsign: signer closed")

// New hands key to libcrypto.so.3 (loading the library on first use) and checks it with a
// PSS and a PKCS #1 v1.5 signature made by OpenSSL that Go's crypto/rsa verifies. An error
// says why OpenSSL cannot be used for this key (library missing or not OpenSSL 3, key refused,
// self-test signature wrong); the caller then signs with key itself. key must not be changed
// afterwards.
func New(key *rsa.PrivateKey) (*Signer, error) {
	lib, err := load()
	if err != nil {
		return nil, err
	}
	if key == nil || key.N == nil || len(key.Primes) < 2 {
		return nil, errors.New("osslsign: not a complete RSA private key")
	}
	pkey, err := lib.importKey(key)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key, h: &handle{lib: lib, pkey: pkey}}
	runtime.AddCleanup(s, (*handle).free, s.h)
	if err := s.selfTest(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// importKey turns key into an EVP_PKEY (PKCS #1 DER, parsed by d2i_PrivateKey). The DER copy
// of the key is wiped before returning.
func (l *libcrypto) importKey(key *rsa.PrivateKey) (uintptr, error) {
	der := x509.MarshalPKCS1PrivateKey(key)
	defer clear(der)
	// d2i_PrivateKey reads through a pointer to a pointer into der: pin der for the call, and
	// stay on one thread so that a failure's error queue is the one read.
	var pin runtime.Pinner
	pin.Pin(&der[0])
	defer pin.Unpin()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := &der[0]
	pkey := l.d2iPrivateKey(evpPkeyRSA, 0, &p, int64(len(der)))
	if pkey == 0 {
		return 0, l.lastError("d2i_PrivateKey (the RSA key in PKCS #1 DER)")
	}
	if got := int(l.pkeyGetSize(pkey)); got != key.Size() {
		l.pkeyFree(pkey)
		return 0, fmt.Errorf("osslsign: OpenSSL reads a %d-byte key where Go has %d bytes", got, key.Size())
	}
	return pkey, nil
}

// selfTest signs a fixed digest both ways with OpenSSL and verifies the signatures with Go.
func (s *Signer) selfTest() error {
	digest := sha256.Sum256([]byte("emqgo osslsign self-test"))
	md := s.h.lib.md[crypto.SHA256]
	for _, p := range []params{{rsaPKCS1PSSPadding, md}, {rsaPKCS1Padding, md}} {
		sig, err := s.h.sign(p, digest[:], s.key.Size())
		if err != nil {
			return fmt.Errorf("self-test: %w", err)
		}
		if p.padding == rsaPKCS1PSSPadding {
			err = rsa.VerifyPSS(&s.key.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest[:], sig)
		}
		if err != nil {
			return fmt.Errorf("osslsign: self-test: OpenSSL's signature does not verify with Go's crypto/rsa (%w)", err)
		}
	}
	return nil
}

// Public returns the key's public half (*rsa.PublicKey).
func (s *Signer) Public() crypto.PublicKey { return &s.key.PublicKey }

// Sign signs digest, the hash of a message, as rsa.PrivateKey.Sign does: PSS when opts is an
// *rsa.PSSOptions, PKCS #1 v1.5 otherwise. OpenSSL signs when it can (see the package
// comment); rand is then not used. Otherwise, and if OpenSSL fails (counted, Failures), Go's
// crypto/rsa signs with rand.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if p, ok := s.params(digest, opts); ok {
		sig, err := s.h.sign(p, digest, s.key.Size())
		if err == nil {
			s.signed.Add(1)
			return sig, nil
		}
		if err != errClosed {
			s.failures.Add(1)
		}
	}
	return s.key.Sign(rand, digest, opts)
}

// Decrypt is rsa.PrivateKey.Decrypt, by Go (TLS 1.2's RSA key exchange).
func (s *Signer) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return s.key.Decrypt(rand, msg, opts)
}

// Signed is how many signatures OpenSSL made (the self-test's not counted).
func (s *Signer) Signed() uint64 { return s.signed.Load() }

// Failures is how many signatures OpenSSL failed to make (Go made them instead).
func (s *Signer) Failures() uint64 { return s.failures.Load() }

// Close frees the key's OpenSSL copy; later signatures are Go's. Signatures under way finish
// first. Safe to call more than once.
func (s *Signer) Close() { s.h.free() }

// Closed says whether Close was called (or the copy was freed otherwise).
func (s *Signer) Closed() bool {
	s.h.mu.RLock()
	defer s.h.mu.RUnlock()
	return s.h.pkey == 0
}

// params is what OpenSSL is told for one signature.
type params struct {
	padding int32   // rsaPKCS1Padding or rsaPKCS1PSSPadding
	md      uintptr // EVP_MD of the digest
}

// params maps a request to OpenSSL's parameters; ok is false for what Go signs instead.
func (s *Signer) params(digest []byte, opts crypto.SignerOpts) (p params, ok bool) {
	if opts == nil {
		return p, false
	}
	hash := opts.HashFunc()
	md := s.h.lib.md[hash]
	if md == 0 || len(digest) != hash.Size() {
		return p, false
	}
	if pss, isPSS := opts.(*rsa.PSSOptions); isPSS {
		if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != hash.Size() {
			return p, false
		}
		return params{rsaPKCS1PSSPadding, md}, true
	}
	return params{rsaPKCS1Padding, md}, true
}

// sign makes one signature of size bytes with a fresh EVP_PKEY_CTX.
func (h *handle) sign(p params, digest []byte, size int) ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.pkey == 0 {
		return nil, errClosed
	}
	l := h.lib
	// OpenSSL's error queue is per thread: stay on this one until it has been read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx := l.ctxNewFromPkey(0, h.pkey, 0)
	if ctx == 0 {
		return nil, l.lastError("EVP_PKEY_CTX_new_from_pkey")
	}
	defer l.ctxFree(ctx)
	switch {
	case l.signInit(ctx) <= 0:
		return nil, l.lastError("EVP_PKEY_sign_init")
	case l.ctxSetRSAPadding(ctx, p.padding) <= 0:
		return nil, l.lastError("EVP_PKEY_CTX_set_rsa_padding")
	case l.ctxSetSignatureMD(ctx, p.md) <= 0:
		return nil, l.lastError("EVP_PKEY_CTX_set_signature_md")
	case p.padding == rsaPKCS1PSSPadding && l.ctxSetRSAPSSSaltLen(ctx, rsaPSSSaltLenDigest) <= 0:
		return nil, l.lastError("EVP_PKEY_CTX_set_rsa_pss_saltlen")
	}
	sig := make([]byte, size)
	n := uintptr(size)
	if l.sign(ctx, &sig[0], &n, &digest[0], uintptr(len(digest))) <= 0 {
		return nil, l.lastError("EVP_PKEY_sign")
	}
	if int(n) != size {
		return nil, fmt.Errorf("osslsign: EVP_PKEY_sign wrote %d bytes, not the key's %d", n, size)
	}
	return sig, nil
}

// free releases the EVP_PKEY once no signature uses it. Safe to call more than once.
func (h *handle) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pkey != 0 {
		h.lib.pkeyFree(h.pkey)
		h.pkey = 0
	}
}
