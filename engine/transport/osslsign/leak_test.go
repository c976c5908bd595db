package osslsign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// rss is the process's resident set size in bytes (Linux /proc/self/statm).
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// 100,000 signatures (20,000 under the race detector, which `make test` uses) leave the
// resident size where it was after the first thousand: no EVP_PKEY_CTX (or anything else
// OpenSSL allocates per signature) is leaked; a leaked context is about 540 bytes, 54 MB over
// 100,000 signatures and 10.8 MB over 20,000. A 1024-bit key keeps the test short; what is
// allocated per signature does not depend on the key's size.
func TestSignFreesOpenSSLMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("many signatures: run without -short")
	}
	n, bound := 100_000, int64(8<<20)
	if raceEnabled {
		n, bound = 20_000, 5<<20
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := digestOf(crypto.SHA256)
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	signN := func(n int) {
		for range n {
			if _, err := s.Sign(rand.Reader, d, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	signN(2000)
	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	signN(n)
	runtime.GC()
	debug.FreeOSMemory()
	after := rss(t)
	t.Logf("RSS %d KiB before, %d KiB after %d signatures", before>>10, after>>10, n)
	if grown := after - before; grown > bound {
		t.Errorf("RSS grew by %d KiB over %d signatures (bound %d KiB)", grown>>10, n, bound>>10)
	}
	if s.Failures() != 0 {
		t.Errorf("%d failures", s.Failures())
	}
}
