package engine

import (
	"testing"
	"time"
)

// A duration lands in the first bucket whose bound is not below it; past the last bound, +Inf.
func TestHistObserve(t *testing.T) {
	f := func(d time.Duration, bucket int) {
		t.Helper()
		var h hist
		h.observe(int64(d))
		if h.Counts[bucket] != 1 || h.Sum != uint64(max(d, 0)) {
			t.Fatalf("observe(%v): counts %v sum %d, want bucket %d", d, h.Counts, h.Sum, bucket)
		}
	}
	f(-time.Second, 0)
	f(0, 0)
	f(500*time.Microsecond, 0)
	f(500*time.Microsecond+1, 1)
	f(time.Millisecond, 1)
	f(3*time.Millisecond, 3)
	f(10*time.Second, histBuckets-2)
	f(time.Hour, histBuckets-1)

	var a, b loopStats
	a.DeliveryTime.observe(int64(time.Millisecond))
	b.DeliveryTime.observe(int64(time.Hour))
	a.add(&b)
	if a.DeliveryTime.Counts[1] != 1 || a.DeliveryTime.Counts[histBuckets-1] != 1 || a.DeliveryTime.Sum != uint64(time.Hour+time.Millisecond) {
		t.Fatalf("loopStats.add lost a histogram: %+v", a.DeliveryTime)
	}
}
