package sessions

import (
	"runtime"
	"strconv"
	"testing"
)

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestRegistryShrinksAfterChurn: 20,000 client ids registered then all but 64 removed (a
// connection churn that ended) leave the registry holding well under a tenth of what it held
// at its peak, and the 64 remaining sessions are still found.
func TestRegistryShrinksAfterChurn(t *testing.T) {
	const n, keep = 20000, 64
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "churn-client-" + strconv.Itoa(i)
	}
	s := &Session{}
	r := &Registry{}
	empty := liveHeap()
	for _, id := range ids {
		r.Update(id, func(*Session) *Session { return s })
	}
	full := liveHeap()
	for _, id := range ids[keep:] {
		r.Update(id, func(*Session) *Session { return nil })
	}
	after := liveHeap()
	if r.Len() != keep {
		t.Fatalf("Len %d, want %d", r.Len(), keep)
	}
	for _, id := range ids[:keep] {
		if r.Get(id) != s {
			t.Fatalf("%s lost by the rebuild", id)
		}
	}
	held, peak := int64(after)-int64(empty), int64(full)-int64(empty)
	t.Logf("registry of %d ids: %.0f KB; after removing all but %d: %.0f KB", n, float64(peak)/1e3, keep, float64(held)/1e3)
	if peak <= 0 || held > peak/10 {
		t.Fatalf("the registry holds %d bytes after the churn, %d at its peak: its maps kept their buckets", held, peak)
	}
	runtime.KeepAlive(ids)
}
