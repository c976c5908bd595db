package engine

import (
	"context"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestLoopLagHistogram: an idle node's sweeps are observed in emqx_loop_lag_seconds, and a
// loop held 300 ms by a task shows: sweeps handed while it was held are counted in the
// buckets above 100 ms, and Max is at least the part of the hold the first of them waited.
func TestLoopLagHistogram(t *testing.T) {
	n, addr := testNode(t, nil) // sweep interval 100 ms: a sweep task every 10 ms
	mustConnect(t, addr, codec.V5, "lag", nil)
	lagOf := func() Histogram {
		for _, h := range n.Histograms() {
			if h.Name == "emqx_loop_lag_seconds" {
				return h
			}
		}
		t.Fatal("no emqx_loop_lag_seconds histogram")
		return Histogram{}
	}
	above := func(h Histogram, d time.Duration) (c uint64) {
		for i, b := range h.Bounds {
			if b > d {
				c += h.Counts[i]
			}
		}
		return c + h.Counts[len(h.Bounds)]
	}
	deadline := time.Now().Add(5 * time.Second)
	for lagOf().Count < 20 { // idle: the sweeps are picked up at once
		if time.Now().After(deadline) {
			t.Fatalf("idle loops: %d sweeps observed in 5 s", lagOf().Count)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An idle loop's sweeps may still wait for a CPU on a loaded machine: count the hold's
	// long waits as the increase over those.
	before := above(lagOf(), 100*time.Millisecond)

	const hold = 300 * time.Millisecond
	var l *loop
	for _, x := range *n.loops.Load() {
		if x.el != nil {
			l = x
			break
		}
	}
	done := make(chan struct{})
	if err := l.el.Execute(context.Background(), runFunc(func() { time.Sleep(hold); close(done) })); err != nil {
		t.Fatal(err)
	}
	<-done
	deadline = time.Now().Add(5 * time.Second)
	for {
		h := lagOf()
		// Sweeps handed in the first 200 ms of the hold waited more than 100 ms: about 20
		// at one every 10 ms; at least 5 even if the ticker goroutine was late.
		if n := above(h, 100*time.Millisecond) - before; n >= 5 {
			if h.Max < hold/2 || h.Max > 10*time.Second {
				t.Fatalf("max lag %v after holding a loop %v", h.Max, hold)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after holding a loop %v: %d more sweeps above 100 ms, max %v, counts %v", hold, above(h, 100*time.Millisecond)-before, h.Max, h.Counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLagRing: the ring gives the times back in order and refuses a push when full.
func TestLagRing(t *testing.T) {
	var r lagRing
	if _, ok := r.pop(); ok {
		t.Fatal("pop from an empty ring")
	}
	for i := range lagRingSize {
		if !r.push(int64(i)) {
			t.Fatalf("push %d refused", i)
		}
	}
	if r.push(-1) {
		t.Fatal("push into a full ring accepted")
	}
	pushed := int64(lagRingSize)
	for i := range lagRingSize + 3 {
		v, ok := r.pop()
		if !ok || v != int64(i) {
			t.Fatalf("pop %d: %d %v", i, v, ok)
		}
		if i%2 == 0 { // wrap around
			if !r.push(pushed) {
				t.Fatal("push after pop refused")
			}
			pushed++
		}
	}
}
