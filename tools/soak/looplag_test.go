package main

import (
	"math"
	"testing"
	"time"
)

func scrapeOf(max float64, perBucket ...uint64) *lagScrape {
	s := &lagScrape{max: max}
	bounds := []float64{0.001, 0.01, 0.1, 1, math.Inf(1)}
	var cum uint64
	for i, c := range perBucket {
		cum += c
		s.bounds, s.cum = append(s.bounds, bounds[i]), append(s.cum, cum)
	}
	return s
}

// TestLagTracker: increments add up across readings of one process and across a restart
// (the histogram starting again from zero); quantiles are bucket bounds, the top one the max.
func TestLagTracker(t *testing.T) {
	var tr lagTracker
	tr.add(scrapeOf(0.0005, 10, 0, 0, 0, 0))
	tr.window()
	tr.add(scrapeOf(0.05, 100, 5, 1, 0, 0)) // +90, +5, +1
	w := tr.window()
	if w.total() != 96 || w.quantile(0.5) != time.Millisecond || w.quantile(0.99) != 50*time.Millisecond || w.top() != 50*time.Millisecond {
		t.Fatalf("window %v: total %d p50 %v p99 %v top %v", w.counts, w.total(), w.quantile(0.5), w.quantile(0.99), w.top())
	}
	tr.add(scrapeOf(0.3, 3, 0, 0, 1, 0)) // a new process: all of it counts
	w = tr.window()
	if w.total() != 4 || w.top() != 300*time.Millisecond || w.quantile(0.99) != 300*time.Millisecond {
		t.Fatalf("after restart: %v top %v p99 %v", w.counts, w.top(), w.quantile(0.99))
	}
	tr.add(scrapeOf(0.3, 5, 0, 0, 1, 0)) // same process, max unchanged: the window's top is a bucket bound
	if w = tr.window(); w.total() != 2 || w.top() != time.Millisecond {
		t.Fatalf("window %v top %v", w.counts, w.top())
	}
	all := tr.total()
	if all.total() != 112 || all.max != 0.3 {
		t.Fatalf("total %v max %v", all.counts, all.max)
	}
	// 1 of 112 above 100 ms: under 1 %; above 10 ms: 2 of 112.
	if got := all.above(100 * time.Millisecond); math.Abs(got-1.0/112) > 1e-9 {
		t.Fatalf("above 100 ms: %v", got)
	}
	if got := all.above(5 * time.Millisecond); math.Abs(got-2.0/112) > 1e-9 { // rounded up to 10 ms
		t.Fatalf("above 5 ms: %v", got)
	}
}
