package engine

import "testing"

// A batch slice grown by a burst is let go once a round uses little of it; output buffers
// grown past 16 KiB leave the loop's pool at a sweep that follows a sweep interval without
// output, and stay while the loop is busy.
func TestBurstCapacityIsReleased(t *testing.T) {
	big := make([]int, 10, 100000)
	if got := shrunk(big); got != nil {
		t.Fatalf("mostly unused burst capacity kept: cap %d", cap(got))
	}
	full := make([]int, 90000, 100000)
	if got := shrunk(full); cap(got) != 100000 || len(got) != 0 {
		t.Fatalf("busy batch: len %d cap %d, want emptied and kept", len(got), cap(got))
	}
	small := make([]int, 0, 64)
	if got := shrunk(small); cap(got) != 64 {
		t.Fatalf("small batch dropped")
	}
	l := &loop{}
	l.putBuf(make([]byte, 0, 4096))
	l.putBuf(make([]byte, 0, 60<<10))
	l.putBuf(make([]byte, 0, 2<<20)) // above maxPooledOut: never pooled
	if len(l.free) != 2 {
		t.Fatalf("%d pooled buffers, want 2", len(l.free))
	}
	l.putBuf(l.getBuf()) // output this interval: the loop is busy
	l.trimFree()
	if len(l.free) != 2 {
		t.Fatalf("a busy loop's trim left %d buffers, want 2", len(l.free))
	}
	l.trimFree() // a whole interval without output
	if len(l.free) != 1 || cap(l.free[0]) != 4096 {
		t.Fatalf("after an idle trim: %d buffers", len(l.free))
	}
}
