package kvlog

import (
	"fmt"
	"runtime"
	"testing"
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
