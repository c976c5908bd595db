package memreclaim

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// TestDue: a reclaim needs a quiet node, the interval since the previous one, and spare heap
// above both MinSpare and the live heap.
func TestDue(t *testing.T) {
	o := Options{}
	o.withDefaults()
	const mb = 1 << 20
	quiet := heapFacts{allocRate: 100 << 10, objects: 10 * mb, free: 80 * mb, live: 8 * mb, sinceReclaim: time.Hour}
	cases := []struct {
		name string
		edit func(*heapFacts)
		want bool
	}{
		{"quiet after a burst", func(*heapFacts) {}, true},
		{"still busy", func(h *heapFacts) { h.allocRate = 50 * mb }, false},
		{"reclaimed 30 s ago", func(h *heapFacts) { h.sinceReclaim = 30 * time.Second }, false},
		{"little spare", func(h *heapFacts) { h.free, h.objects = 3*mb, 8*mb }, false},
		{"spare within GOGC's headroom", func(h *heapFacts) { h.live, h.objects, h.free = 200*mb, 210*mb, 150*mb }, false},
		{"garbage not yet collected counts", func(h *heapFacts) { h.free, h.objects = 4*mb, 40*mb }, true},
		{"busy period ended, live figure from during it", func(h *heapFacts) {
			h.busyEnded, h.live, h.objects, h.free = true, 40*mb, 42*mb, 2*mb
		}, true},
		{"same without the busy period", func(h *heapFacts) { h.live, h.objects, h.free = 40*mb, 42*mb, 2*mb }, false},
		{"busy period ended, tiny heap", func(h *heapFacts) { h.busyEnded, h.live, h.objects, h.free = true, 1*mb, 2*mb, 1*mb }, false},
		{"busy period ended, still busy", func(h *heapFacts) { h.busyEnded, h.allocRate = true, 50*mb }, false},
		{"busy period ended, reclaimed 30 s ago", func(h *heapFacts) { h.busyEnded, h.sinceReclaim = true, 30*time.Second }, false},
		{"population fell, live figure from before", func(h *heapFacts) {
			h.popFell, h.live, h.objects, h.free = true, 40*mb, 42*mb, 2*mb
		}, true},
		{"population fell, reclaimed 20 s ago", func(h *heapFacts) { h.popFell, h.sinceReclaim = true, 20*time.Second }, true},
		{"population fell, reclaimed 10 s ago", func(h *heapFacts) { h.popFell, h.sinceReclaim = true, 10*time.Second }, false},
		{"population fell, still busy", func(h *heapFacts) { h.popFell, h.allocRate = true, 50*mb }, false},
	}
	for _, c := range cases {
		h := quiet
		c.edit(&h)
		if got := o.due(h); got != c.want {
			t.Errorf("%s: due = %v, want %v (%+v)", c.name, got, c.want, h)
		}
	}
}

var sink [][]byte

// TestReclaimAfterBurst: after a 96 MB burst of allocations is dropped, the reclaimer returns
// the memory to the OS once (counted, in its metrics), and not again within MinInterval.
func TestReclaimAfterBurst(t *testing.T) {
	for i := 0; i < 96; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	for i := range sink {
		sink[i][0] = 1
	}
	runtime.GC() // the burst is live: the heap grows to hold it
	sink = nil
	runtime.GC() // now free, but held by the runtime until its scavenger gets to it
	released := func() uint64 {
		s := []metrics.Sample{{Name: mReleased}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := released()
	r := Start(nil, Options{Check: 20 * time.Millisecond, MinInterval: time.Hour, QuietRate: 1 << 30})
	defer r.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for r.Reclaims() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reclaim within 10 s of a dropped 96 MB burst")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ms := r.metrics()
	if ms[0].Name != "memory.reclaims" || ms[0].Value != 1 {
		t.Fatalf("metrics %+v", ms)
	}
	if got := released() - before; got < 32<<20 {
		t.Fatalf("released %d MB to the OS, want most of the 96 MB burst", got>>20)
	}
	t.Logf("returned %.1f MB (counted %.1f MB) in %d ms", float64(released()-before)/1e6, float64(ms[1].Value)/1e6, ms[2].Value)
	// A second burst within MinInterval: no second reclaim.
	for i := 0; i < 96; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	runtime.GC()
	sink = nil
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	if n := r.Reclaims(); n != 1 {
		t.Fatalf("%d reclaims within MinInterval, want 1", n)
	}
}

// TestReclaimWhenBusyEnds: the first quiet check after a busy one reclaims although the live
// figure, from a collection during the busy period, still counts the burst as live (the
// case where the reclaim used to wait for the runtime's next collection, up to two minutes),
// and a quiet check with no busy period since does not reclaim again.
func TestReclaimWhenBusyEnds(t *testing.T) {
	r := newReclaimer(Options{MinInterval: time.Nanosecond})
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	for i := range sink {
		sink[i][0] = 1
	}
	runtime.GC() // the collection during the burst: 64 MB live
	now := r.lastAt.Add(time.Second)
	r.check(now) // 64 MB in a second: busy
	if r.Reclaims() != 0 || !r.busy {
		t.Fatalf("reclaims %d, busy %v after the burst's check, want 0 and busy", r.Reclaims(), r.busy)
	}
	sink = nil // the burst is over; no collection has seen it yet
	r.read()
	o := r.opts
	if stale := (heapFacts{objects: r.samples[1].Value.Uint64(), free: r.samples[2].Value.Uint64(), live: r.samples[3].Value.Uint64(), sinceReclaim: time.Hour}); o.due(stale) {
		t.Fatalf("the live figure is not stale (%+v): the test does not test the busy-end case", stale)
	}
	now = now.Add(time.Hour)
	r.check(now) // quiet
	if r.Reclaims() != 1 || r.busy {
		t.Fatalf("reclaims %d, busy %v after the first quiet check, want 1 and not busy", r.Reclaims(), r.busy)
	}
	if got := r.returned.Load(); got < 32<<20 {
		t.Fatalf("returned %d MB, want most of the 64 MB burst", got>>20)
	}
	r.check(now.Add(time.Hour)) // quiet again, no busy period since
	if r.Reclaims() != 1 {
		t.Fatalf("%d reclaims after a second quiet check, want 1", r.Reclaims())
	}
}

// TestReclaimWhenPopulationFalls: with the node quiet all along, a reclaim follows the fall
// of its connections and sessions to half of their peak (1,000 offline sessions expiring),
// not a small fall, and the peak restarts from the reclaim.
func TestReclaimWhenPopulationFalls(t *testing.T) {
	pop := int64(1000)
	// MinInterval of 8 h against steps of 1 h: only the population's fall can make a check
	// due (a fall counts a quarter of it, 2 h, after the previous reclaim). With a shorter
	// interval the free pages left by an earlier test in this process would make any check
	// due, whatever the population did.
	r := newReclaimer(Options{MinInterval: 8 * time.Hour, MinSpare: 1, Population: func() int64 { return pop }})
	r.lastDone = r.lastAt // as if a reclaim had just run: nothing else is due
	now := r.lastAt
	step := func() { now = now.Add(time.Hour); r.check(now) }
	step()
	pop = 700 // a fall, not to half
	step()
	if n := r.Reclaims(); n != 0 {
		t.Fatalf("%d reclaims after the population fell from 1,000 to 700, want 0", n)
	}
	pop = 65
	step()
	if n := r.Reclaims(); n != 1 {
		t.Fatalf("%d reclaims after the population fell from 1,000 to 65, want 1", n)
	}
	pop = 40 // below half of 65, but by fewer than PopulationDrop
	step()
	if n := r.Reclaims(); n != 1 {
		t.Fatalf("%d reclaims after a fall of 25, want still 1", n)
	}
}
