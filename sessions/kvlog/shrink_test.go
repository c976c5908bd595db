package kvlog

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestIndexShrinksAfterDeletes: 100,000 keys put then all but 100 deleted give the index's
// memory back (the map is rebuilt for the live keys, the batch buffers the burst grew are
// dropped once smaller batches follow) while every live key stays readable,
// also after a reopen; a log reopened on a directory whose keys were mostly deleted sizes
// its index for the live ones.
func TestIndexShrinksAfterDeletes(t *testing.T) {
	const keys, keep = 100_000, 100
	dir := t.TempDir()
	l, _ := openT(t, dir, Options{CompactRatio: -1})
	key := func(i int) []byte { return fmt.Appendf(nil, "session/client-%06d/queue/%08d", i%3000, i) }
	base := liveHeap()
	for i := range keys {
		if err := l.Put(key(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	peak := liveHeap() - base
	for i := keep; i < keys; i++ {
		if err := l.Delete(key(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // small batches after the burst: the writer's two batch buffers let theirs go
		if err := l.Put(key(0), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	after := liveHeap() - base
	st := l.Stats()
	t.Logf("index of %d keys: %.1f MB of heap; %d keys left: %.2f MB; rebuilds %d", keys, float64(peak)/1e6, st.LiveKeys, float64(after)/1e6, st.IndexRebuilds)
	if st.LiveKeys != keep || st.IndexRebuilds == 0 {
		t.Fatalf("live keys %d, index rebuilds %d", st.LiveKeys, st.IndexRebuilds)
	}
	// The keys and entries go with their deletion either way; the map's buckets only with
	// the rebuild, the burst's batch buffers once smaller batches follow.
	if after > peak/10 {
		t.Fatalf("heap after deleting %d of %d keys: %d bytes above the start, %d at the peak", keys-keep, keys, after, peak)
	}
	check := func(l *Log) {
		t.Helper()
		got := replayMap(t, l)
		if len(got) != keep {
			t.Fatalf("replay: %d keys, want %d", len(got), keep)
		}
		for i := range keep {
			if v, ok, err := l.Get(key(i)); err != nil || !ok || string(v) != "v" {
				t.Fatalf("Get(%s): %q %v %v", key(i), v, ok, err)
			}
		}
		if _, ok, err := l.Get(key(keep)); ok || err != nil {
			t.Fatalf("deleted key %s still readable", key(keep))
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = openT(t, dir, Options{CompactRatio: -1})
	defer l.Close()
	if st := l.Stats(); st.LiveKeys != keep || st.IndexRebuilds != 1 {
		t.Fatalf("reopened: live keys %d, index rebuilds %d (the load saw %d keys)", st.LiveKeys, st.IndexRebuilds, keys)
	}
	check(l)
}

// batchCaps returns the capacities of the writer's two batch buffers (0 for one being
// written).
func batchCaps(l *Log) (pending, spare int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pending = cap(l.pending.buf)
	if l.spare != nil {
		spare = cap(l.spare.buf)
	}
	return pending, spare
}

// TestIdleBatchBuffersDropped: the buffers of a burst's last, well-used batches stay while
// nothing else is written (batch.reset keeps them) and go once the writer was idle for an
// interval; the log works on after that.
func TestIdleBatchBuffersDropped(t *testing.T) {
	l, _ := openT(t, t.TempDir(), Options{CompactRatio: -1, idleTrim: 50 * time.Millisecond})
	value := make([]byte, 1000)
	burst := func() {
		for i := range 1000 { // ~1 MB in one or a few batches
			if err := l.Put(fmt.Appendf(nil, "k%06d", i), value); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	burst()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, s := batchCaps(l)
		if p <= idleBatchCap && s <= idleBatchCap {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle for 5 s, batch buffers still %d and %d bytes", p, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	burst() // works on with the dropped buffers
	if v, ok, err := l.Get([]byte("k000999")); err != nil || !ok || len(v) != len(value) {
		t.Fatalf("Get after the trim: %d bytes, found %v, %v", len(v), ok, err)
	}
}

// TestTrimIdleKeepsBusyBuffers: trimIdle drops nothing when a batch was written since its
// previous call, and only empty batches' buffers above idleBatchCap when none was.
func TestTrimIdleKeepsBusyBuffers(t *testing.T) {
	l := &Log{pending: &batch{buf: make([]byte, 0, 1<<20)}, spare: &batch{buf: make([]byte, 0, 1<<20)}}
	l.batches = 3 // batches written since the previous look
	l.trimIdle()
	if cap(l.pending.buf) != 1<<20 || cap(l.spare.buf) != 1<<20 {
		t.Fatalf("busy writer: buffers trimmed to %d, %d", cap(l.pending.buf), cap(l.spare.buf))
	}
	l.pending.buf = append(l.pending.buf, 1) // records waiting: that batch is not empty
	l.trimIdle()
	if cap(l.pending.buf) != 1<<20 || cap(l.spare.buf) > idleBatchCap {
		t.Fatalf("idle writer: pending (not empty) %d, spare %d", cap(l.pending.buf), cap(l.spare.buf))
	}
}
