package main

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestBucketRoundTrip(t *testing.T) {
	f := func(v uint64) {
		t.Helper()
		lo, hi := bucketBounds(bucketOf(v))
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, bucketOf(v), lo, hi)
		}
		if v >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/halfCount+1e-12 {
			t.Fatalf("bucket of %d is %d wide: more than 1/%d of its low bound", v, hi-lo+1, halfCount)
		}
	}
	for v := uint64(0); v < 5000; v++ {
		f(v)
	}
	for e := 10; e < 42; e++ {
		f(1<<e - 1)
		f(1 << e)
		f(1<<e + 1)
	}
	// Buckets are contiguous and increasing.
	prevHi := uint64(0)
	for i := 1; i < histBuckets; i++ {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d [%d, %d] after high bound %d", i, lo, hi, prevHi)
		}
		prevHi = hi
	}
	if got := bucketOf(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last", got)
	}
}

func TestQuantilesAgainstSort(t *testing.T) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]uint64, 30000)
	for i := range vals {
		// Log-normal-ish latencies from 1 µs to ~1 s.
		vals[i] = uint64(math.Exp(rng.NormFloat64()*1.5 + 11))
		h.Record(vals[i])
	}
	sort.Slice(vals, func(a, b int) bool { return vals[a] < vals[b] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/halfCount+1 {
			t.Errorf("q%.3f = %d, exact %d (allowed +%.2f%%)", q, got, exact, 100.0/halfCount)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %d min %d count %d", h.Max(), h.Min(), h.Count())
	}
}

func TestQuantileSmallAndEmpty(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	for _, v := range []uint64{10, 20, 30, 40, 1000} {
		h.Record(v)
	}
	f := func(q float64, want uint64) {
		t.Helper()
		if got := h.Quantile(q); got != want {
			t.Errorf("q%v = %d, want %d", q, got, want)
		}
	}
	f(0.2, 10)
	f(0.5, 30)
	f(0.8, 40)
	f(0.99, 1000)
	f(1, 1000)
}

func TestLiveHistogramSnapshotAndMerge(t *testing.T) {
	var a, b liveHistogram
	for v := uint64(1); v <= 1000; v++ {
		a.record(v * 1000)
		b.record(v)
	}
	h := NewHistogram()
	a.snapshotInto(h)
	b.snapshotInto(h)
	if h.Count() != 2000 || h.Min() != 1 || h.Max() != 1000000 {
		t.Fatalf("count %d min %d max %d", h.Count(), h.Min(), h.Max())
	}
	if q := h.Quantile(0.5); q < 1000 || q > 1008 {
		t.Fatalf("median %d, want about 1000", q)
	}
	o := NewHistogram()
	o.Merge(h)
	o.Merge(h)
	if o.Count() != 4000 || o.Quantile(0.5) != h.Quantile(0.5) {
		t.Fatalf("merge: count %d median %d", o.Count(), o.Quantile(0.5))
	}
}

func TestCoarseBuckets(t *testing.T) {
	h := NewHistogram()
	for v := uint64(1000); v < 1000000; v += 997 {
		h.Record(v)
	}
	bs := coarseBuckets(h, 10)
	var n float64
	for i, b := range bs {
		n += b[2]
		if b[0] >= b[1] || (i > 0 && b[0] < bs[i-1][1]-1e-9) {
			t.Fatalf("bucket %d %v out of order", i, b)
		}
	}
	if n != float64(h.Count()) || len(bs) > 31 {
		t.Fatalf("%d coarse buckets holding %v of %d", len(bs), n, h.Count())
	}
}
