package main

import (
	"sync"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	p := make([]byte, 64)
	putStamp(p, 0xBEEF, 7, 1<<40+3, 1234567890123)
	run, pub, seq, ts, ok := readStamp(p)
	if !ok || run != 0xBEEF || pub != 7 || seq != 1<<40+3 || ts != 1234567890123 {
		t.Fatalf("got %x %d %d %d %v", run, pub, seq, ts, ok)
	}
	if _, _, _, _, ok := readStamp(p[:stampSize-1]); ok {
		t.Fatal("short payload read as stamped")
	}
	if _, _, _, _, ok := readStamp(make([]byte, 64)); ok {
		t.Fatal("payload without magic read as stamped")
	}
}

func TestSeqSetCountsDuplicatesAndOrder(t *testing.T) {
	var s seqSet
	type step struct {
		seq         uint64
		fresh, late bool
	}
	for _, st := range []step{
		{0, true, false}, {1, true, false}, {3, true, false}, {2, true, true}, {2, false, false},
		{20000, true, false}, {9000, true, true}, {20000, false, false}, {4, true, true},
	} {
		fresh, late := s.record(st.seq)
		if fresh != st.fresh || late != st.late {
			t.Fatalf("seq %d: fresh %v late %v, want %v %v", st.seq, fresh, late, st.fresh, st.late)
		}
	}
	if s.distinct.Load() != 7 {
		t.Fatalf("distinct %d, want 7", s.distinct.Load())
	}
}

func TestScopeConcurrentExactCounts(t *testing.T) {
	// Two "loops" share a scope (a $share group): every number is sent once to one of them
	// and numbers 0..999 a second time to the other; the scope must see each exactly once.
	sc := newScope(2, []uint32{0, 1})
	const n = 50000
	var wg sync.WaitGroup
	var dups [2]int
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := uint64(0); i < n; i++ {
				if int(i%2) == w || i < 1000 {
					if fresh, _ := sc.record(1, i); !fresh {
						dups[w]++
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if got := sc.distinct(1); got != n {
		t.Fatalf("distinct %d, want %d", got, n)
	}
	if dups[0]+dups[1] != 1000 {
		t.Fatalf("duplicates %d, want 1000", dups[0]+dups[1])
	}
	if sc.distinct(0) != 0 || !sc.wanted[0] || !sc.wanted[1] {
		t.Fatal("scope bookkeeping")
	}
}
