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

// 100,000 signatures leave the resident size where it was after the first thousand: no
// EVP_PKEY_CTX (or anything else OpenSSL allocates per signature) is leaked. A 1024-bit key
// keeps the test short; what is allocated per signature does not depend on the key's size.
// Its name matches the Makefile's allocation gates (ALLOC_GATES), which `make test` runs
// without -race.
func TestSignAllocationsFreed(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100,000 signatures: run without -short and without -race")
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
	signN(100_000)
	runtime.GC()
	debug.FreeOSMemory()
	after := rss(t)
	t.Logf("RSS %d KiB before, %d KiB after 100,000 signatures", before>>10, after>>10)
	if grown := after - before; grown > 8<<20 {
		t.Errorf("RSS grew by %d KiB over 100,000 signatures", grown>>10)
	}
	if s.Failures() != 0 {
		t.Errorf("%d failures", s.Failures())
	}
}
