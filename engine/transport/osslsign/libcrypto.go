package osslsign

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// LibraryName is the shared library loaded: OpenSSL 3's libcrypto, whose EVP_PKEY_CTX_set_*
// helpers are functions (OpenSSL 1.1 has them as macros, so it cannot be used).
const LibraryName = "libcrypto.so.3"

// libcrypto is the set of libcrypto functions a Signer calls. C pointers (EVP_PKEY,
// EVP_PKEY_CTX, EVP_MD) are held as uintptr: they point to C memory, never to Go's.
type libcrypto struct {
	version string // OpenSSL_version(OPENSSL_VERSION), for the log

	d2iPrivateKey       func(typ int32, out uintptr, in **byte, length int64) uintptr
	pkeyFree            func(pkey uintptr)
	pkeyGetSize         func(pkey uintptr) int32
	ctxNewFromPkey      func(libctx, pkey uintptr, propq uintptr) uintptr
	ctxFree             func(ctx uintptr)
	signInit            func(ctx uintptr) int32
	ctxSetRSAPadding    func(ctx uintptr, padding int32) int32
	ctxSetSignatureMD   func(ctx uintptr, md uintptr) int32
	ctxSetRSAPSSSaltLen func(ctx uintptr, saltlen int32) int32
	sign                func(ctx uintptr, sig *byte, siglen *uintptr, tbs *byte, tbslen uintptr) int32
	errGetError         func() uint64
	errErrorStringN     func(e uint64, buf *byte, n uintptr)
	errClearError       func()

	md map[crypto.Hash]uintptr // EVP_sha1() … EVP_sha512(): static objects, never freed
}

// OpenSSL's constants (openssl/evp.h, openssl/rsa.h, openssl/crypto.h).
const (
	evpPkeyRSA          = 6  // EVP_PKEY_RSA
	rsaPKCS1Padding     = 1  // RSA_PKCS1_PADDING
	rsaPKCS1PSSPadding  = 6  // RSA_PKCS1_PSS_PADDING
	rsaPSSSaltLenDigest = -1 // RSA_PSS_SALTLEN_DIGEST: salt length = digest length
	opensslVersion      = 0  // OPENSSL_VERSION
)

var (
	loadOnce sync.Once
	loaded   *libcrypto
	loadErr  error
)

// load returns libcrypto, loading it on the first call. The library stays loaded for the
// life of the process. Safe for concurrent use.
func load() (*libcrypto, error) {
	loadOnce.Do(func() { loaded, loadErr = open(LibraryName) })
	return loaded, loadErr
}

// Available loads libcrypto.so.3 if that is not done yet and says why it cannot be used, or
// returns nil. Safe for concurrent use.
func Available() error {
	_, err := load()
	return err
}

// Version is libcrypto's version text (e.g. "OpenSSL 3.0.19 27 Jan 2026"), "" when it is not
// loaded.
func Version() string {
	l, err := load()
	if err != nil {
		return ""
	}
	return l.version
}

// open loads the library name and resolves the functions a Signer needs; an error names the
// library and the missing function.
func open(name string) (l *libcrypto, err error) {
	h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("cannot load %s: %w", name, err)
	}
	// RegisterLibFunc panics on a missing symbol; a libcrypto of another major version may
	// lack one, which is an error to report, not a crash.
	defer func() {
		if r := recover(); r != nil {
			_ = purego.Dlclose(h)
			l, err = nil, fmt.Errorf("%s is not usable: %v", name, r)
		}
	}()
	l = &libcrypto{md: make(map[crypto.Hash]uintptr, 5)}
	reg := func(fn any, sym string) { purego.RegisterLibFunc(fn, h, sym) }
	reg(&l.d2iPrivateKey, "d2i_PrivateKey")
	reg(&l.pkeyFree, "EVP_PKEY_free")
	reg(&l.pkeyGetSize, "EVP_PKEY_get_size")
	reg(&l.ctxNewFromPkey, "EVP_PKEY_CTX_new_from_pkey")
	reg(&l.ctxFree, "EVP_PKEY_CTX_free")
	reg(&l.signInit, "EVP_PKEY_sign_init")
	reg(&l.ctxSetRSAPadding, "EVP_PKEY_CTX_set_rsa_padding")
	reg(&l.ctxSetSignatureMD, "EVP_PKEY_CTX_set_signature_md")
	reg(&l.ctxSetRSAPSSSaltLen, "EVP_PKEY_CTX_set_rsa_pss_saltlen")
	reg(&l.sign, "EVP_PKEY_sign")
	reg(&l.errGetError, "ERR_get_error")
	reg(&l.errErrorStringN, "ERR_error_string_n")
	reg(&l.errClearError, "ERR_clear_error")
	var versionOf func(int32) string
	reg(&versionOf, "OpenSSL_version")
	l.version = versionOf(opensslVersion)
	for _, m := range []struct {
		hash crypto.Hash
		sym  string
	}{{crypto.SHA1, "EVP_sha1"}, {crypto.SHA224, "EVP_sha224"}, {crypto.SHA256, "EVP_sha256"}, {crypto.SHA384, "EVP_sha384"}, {crypto.SHA512, "EVP_sha512"}} {
		var md func() uintptr
		reg(&md, m.sym)
		if l.md[m.hash] = md(); l.md[m.hash] == 0 {
			_ = purego.Dlclose(h)
			return nil, fmt.Errorf("%s: %s returned NULL", name, m.sym)
		}
	}
	if !strings.HasPrefix(l.version, "OpenSSL 3.") {
		_ = purego.Dlclose(h)
		return nil, fmt.Errorf("%s is %q, not OpenSSL 3", name, l.version)
	}
	return l, nil
}

// lastError drains the calling thread's OpenSSL error queue into an error naming op. The
// caller has locked its goroutine to its thread since the failing call (the queue is per
// thread).
func (l *libcrypto) lastError(op string) error {
	var msgs []string
	var buf [256]byte
	for {
		e := l.errGetError()
		if e == 0 {
			break
		}
		l.errErrorStringN(e, &buf[0], uintptr(len(buf)))
		n := 0
		for n < len(buf) && buf[n] != 0 {
			n++
		}
		msgs = append(msgs, string(buf[:n]))
	}
	if len(msgs) == 0 {
		return errors.New("osslsign: " + op + " failed")
	}
	return errors.New("osslsign: " + op + " failed: " + strings.Join(msgs, "; "))
}
