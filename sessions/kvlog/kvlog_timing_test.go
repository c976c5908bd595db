package kvlog

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutCommit: each writer behaves like a publisher waiting for its acknowledgement:
// Put, Commit, wait for the callback, repeat. With FsyncAlways the writers' records share
// group commits, so throughput grows with the number of writers.
func BenchmarkPutCommit(b *testing.B) {
	for _, policy := range []Fsync{FsyncAlways, FsyncInterval, FsyncNever} {
		for _, size := range []int{64, 1024} {
			for _, writers := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("%s/%dB/writers=%d", policy, size, writers), func(b *testing.B) {
					benchPutCommit(b, policy, size, writers)
				})
			}
		}
	}
}

func benchPutCommit(b *testing.B, policy Fsync, size, writers int) {
	l, _, err := Open(b.TempDir(), Options{Fsync: policy})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	value := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := make([]byte, 0, 32)
			done := make(chan error, 1)
			cb := func(err error) { done <- err }
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				key = fmt.Appendf(key[:0], "client-%d/msg-%d", w, i%1000)
				if err := l.Put(key, value); err != nil {
					b.Error(err)
					return
				}
				l.Commit(cb)
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// buildBenchStore writes n keys with values of size bytes (plus dead overwrites of a share
// of them) and closes the store.
func buildBenchStore(b *testing.B, dir string, n, size int, overwrite float64) {
	l, _, err := Open(dir, Options{Fsync: FsyncNever, CompactRatio: -1})
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, size)
	key := make([]byte, 0, 32)
	put := func(i int) {
		key = fmt.Appendf(key[:0], "retained/topic/%08d", i)
		for {
			err := l.Put(key, value)
			if err == nil {
				return
			}
			if err != ErrBusy {
				b.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; i < n; i++ {
		put(i)
	}
	for i := 0; i < int(float64(n)*overwrite); i++ {
		put(i * 7 % n)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenReplay1M: start-up with 1 M live keys of 100-byte values: Open (reading
// every segment and building the index) and Replay (streaming every value).
func BenchmarkOpenReplay1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	buildBenchStore(b, dir, n, 100, 0)
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		var perKey float64
		for i := 0; i < b.N; i++ {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			l, rec, err := Open(dir, Options{CompactRatio: -1})
			if err != nil {
				b.Fatal(err)
			}
			if rec.LiveKeys != n {
				b.Fatalf("%d keys", rec.LiveKeys)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perKey = float64(after.HeapAlloc-before.HeapAlloc) / n
			b.StartTimer()
			l.Close()
		}
		b.ReportMetric(perKey, "heapB/key")
	})
	l, _, err := Open(dir, Options{CompactRatio: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.Run("replay", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			count := 0
			var bytes int64
			l.Replay(func(k, v []byte) error { count++; bytes += int64(len(k) + len(v)); return nil })
			if count != n {
				b.Fatalf("%d keys", count)
			}
			b.SetBytes(bytes)
		}
	})
}

// BenchmarkCompact: a full compaction of a store of 200 k keys of 100 bytes where half of
// the records are dead; bytes/s counts the input.
func BenchmarkCompact(b *testing.B) {
	const n = 200_000
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		buildBenchStore(b, dir, n, 100, 1)
		l, _, err := Open(dir, Options{CompactRatio: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(l.Stats().TotalBytes)
		b.StartTimer()
		if err := l.Compact(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}
