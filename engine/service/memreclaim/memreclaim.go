// Package memreclaim hands the Go heap's unused memory back to the operating system once a
// busy period is over, so that a broker's RSS comes back near its baseline after a burst
// (thousands of clients reconnecting, a fan-out storm) instead of staying at the burst's
// size for minutes.
//
// The runtime returns freed pages on its own, but lazily: its background scavenger keeps
// what the last heap goal allowed and works at about 1 % of a CPU, and the goal only falls
// after a collection, which an idle broker may not run for two minutes. A reclaim is one
// debug.FreeOSMemory: a forced full collection (two stop-the-world pauses of the size of the
// runtime's own, the mark running concurrently on a quarter of the CPUs) and the return of
// every free page. It runs on this package's goroutine, never on an event loop, at most once
// per Options.MinInterval, and only when the node is quiet: right after a busy period (the
// collection itself then finds what the burst left), or later when the heap holds much more
// than it uses. Under steady load it never runs.
package memreclaim

import (
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Options tune the reclaimer; zero values take the defaults.
type Options struct {
	// Check is how often the heap is looked at (default 5 s).
	Check time.Duration
	// MinInterval is the shortest time between two reclaims (default 1 min).
	MinInterval time.Duration
	// QuietRate is the allocation rate, in bytes per second over the last Check, below which
	// the node is quiet: the busy period is over (default 4 MiB/s).
	QuietRate uint64
	// MinSpare is the least heap memory held beyond the live heap for a reclaim to be worth
	// a collection (default 4 MiB). The spare must also exceed the live heap: up to that much
	// is the ordinary headroom of GOGC=100.
	MinSpare uint64
	// Population returns how many connections and sessions the node holds; nil: not
	// watched. Start sets it from the node's statistics. When it falls to half of its
	// largest figure since the last reclaim, by at least PopulationDrop, what they held is
	// garbage the last collection has not seen (offline sessions expiring after their
	// clients left): the next quiet check reclaims as after a busy period, once a quarter
	// of MinInterval has passed since the previous reclaim.
	Population func() int64
	// PopulationDrop is the least fall of Population that counts (default 256).
	PopulationDrop int64
	// Log receives one line per reclaim (debug level) and nil means none.
	Log *slog.Logger
}

func (o *Options) withDefaults() {
	if o.Check <= 0 {
		o.Check = 5 * time.Second
	}
	if o.MinInterval <= 0 {
		o.MinInterval = time.Minute
	}
	if o.QuietRate == 0 {
		o.QuietRate = 4 << 20
	}
	if o.MinSpare == 0 {
		o.MinSpare = 4 << 20
	}
	if o.PopulationDrop <= 0 {
		o.PopulationDrop = 256
	}
}

// Runtime metrics read at each check.
const (
	mAllocs   = "/gc/heap/allocs:bytes"              // cumulative bytes allocated
	mObjects  = "/memory/classes/heap/objects:bytes" // live and not yet swept objects
	mFree     = "/memory/classes/heap/free:bytes"    // free heap memory not yet returned
	mLive     = "/gc/heap/live:bytes"                // live heap after the last collection
	mReleased = "/memory/classes/heap/released:bytes"
)

// Reclaimer watches the heap and reclaims after busy periods. Safe for concurrent use;
// Stop ends its goroutine.
type Reclaimer struct {
	opts Options
	stop chan struct{}
	done chan struct{}
	once sync.Once

	reclaims atomic.Uint64 // reclaims done
	returned atomic.Uint64 // bytes the reclaims returned to the OS
	spent    atomic.Int64  // nanoseconds spent in the reclaims (forced GC and scavenge)

	samples    []metrics.Sample
	lastAllocs uint64
	lastAt     time.Time
	lastDone   time.Time
	busy       bool  // a check since the last reclaim saw the node busy
	popPeak    int64 // largest Population since the last reclaim
}

// Start starts a reclaimer for the process (there is one Go heap whatever the number of
// nodes) and adds its counters to n's metrics: memory.reclaims (reclaims done),
// memory.reclaimed_bytes (bytes they returned to the OS) and memory.reclaim_ms (time spent
// in them).
func Start(n *engine.Node, opts Options) *Reclaimer {
	if n != nil && opts.Population == nil {
		opts.Population = func() int64 {
			st := n.Stats()
			return st.Connections + st.Sessions
		}
	}
	r := newReclaimer(opts)
	if n != nil {
		n.AddMetrics(r.metrics)
	}
	go r.run()
	return r
}

// newReclaimer returns a reclaimer whose goroutine is not started.
func newReclaimer(opts Options) *Reclaimer {
	opts.withDefaults()
	r := &Reclaimer{opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	r.samples = []metrics.Sample{{Name: mAllocs}, {Name: mObjects}, {Name: mFree}, {Name: mLive}, {Name: mReleased}}
	r.read()
	r.lastAllocs, r.lastAt = r.samples[0].Value.Uint64(), time.Now()
	return r
}

// Stop ends the reclaimer's goroutine and waits for it. Safe to call more than once.
func (r *Reclaimer) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

// Reclaims returns how many reclaims were done.
func (r *Reclaimer) Reclaims() uint64 { return r.reclaims.Load() }

func (r *Reclaimer) metrics() []engine.Metric {
	return []engine.Metric{
		{Name: "memory.reclaims", Value: r.reclaims.Load()},
		{Name: "memory.reclaimed_bytes", Value: r.returned.Load()},
		{Name: "memory.reclaim_ms", Value: uint64(r.spent.Load() / int64(time.Millisecond))},
	}
}

func (r *Reclaimer) run() {
	defer close(r.done)
	t := time.NewTicker(r.opts.Check)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.check(now)
		}
	}
}

func (r *Reclaimer) read() { metrics.Read(r.samples) }

// heapFacts is one reading of the heap.
type heapFacts struct {
	allocRate               uint64 // bytes per second since the previous check
	objects, free, live     uint64
	sinceLast, sinceReclaim time.Duration
	// busyEnded: a check since the last reclaim saw the node busy. live is then the
	// figure of the last collection, which ran during the busy period and counted its
	// transient objects as live.
	busyEnded bool
	// popFell: the node's connections and sessions fell to half of their peak since the
	// last reclaim (Options.Population); live counts what they held.
	popFell bool
}

// due says whether a reclaim is worth it now: the node is quiet and either its population
// fell (popFell) at least a quarter of MinInterval after the previous reclaim (a fall is
// rare by construction: the peak restarts at each reclaim), or at least MinInterval passed
// since the previous reclaim and either a busy period just ended and the heap holds at
// least MinSpare (objects and free pages: the forced collection finds what of it the busy
// period left), or the heap memory held beyond the live heap (free pages plus
// objects a collection would free) is above MinSpare and above the live heap.
//
// Without the first case a reclaim after a burst waited for the runtime's next collection
// to lower the live figure, up to its two-minute periodic one on a quiet node: the soak
// measured RSS still at the churn's level two minutes after it stopped.
func (o *Options) due(h heapFacts) bool {
	if h.allocRate >= o.QuietRate {
		return false
	}
	if h.popFell && h.sinceReclaim >= o.MinInterval/4 {
		return h.objects+h.free >= o.MinSpare
	}
	if h.sinceReclaim < o.MinInterval {
		return false
	}
	if h.busyEnded {
		return h.objects+h.free >= o.MinSpare
	}
	spare := h.free
	if h.objects > h.live {
		spare += h.objects - h.live
	}
	return spare >= o.MinSpare && spare > h.live
}

func (r *Reclaimer) check(now time.Time) {
	r.read()
	allocs := r.samples[0].Value.Uint64()
	h := heapFacts{
		objects: r.samples[1].Value.Uint64(), free: r.samples[2].Value.Uint64(), live: r.samples[3].Value.Uint64(),
		sinceLast: now.Sub(r.lastAt), sinceReclaim: now.Sub(r.lastDone),
	}
	if r.lastDone.IsZero() {
		h.sinceReclaim = r.opts.MinInterval
	}
	if s := h.sinceLast.Seconds(); s > 0 && allocs >= r.lastAllocs {
		h.allocRate = uint64(float64(allocs-r.lastAllocs) / s)
	}
	r.lastAllocs, r.lastAt = allocs, now
	if h.allocRate >= r.opts.QuietRate {
		r.busy = true
	}
	h.busyEnded = r.busy
	var pop int64
	if r.opts.Population != nil {
		pop = r.opts.Population()
		r.popPeak = max(r.popPeak, pop)
		h.popFell = pop <= r.popPeak/2 && r.popPeak-pop >= r.opts.PopulationDrop
	}
	if !r.opts.due(h) {
		return
	}
	r.busy, r.popPeak = false, pop
	before := r.samples[4].Value.Uint64()
	start := time.Now()
	debug.FreeOSMemory()
	took := time.Since(start)
	r.read()
	r.lastAllocs, r.lastAt, r.lastDone = r.samples[0].Value.Uint64(), time.Now(), time.Now()
	after := r.samples[4].Value.Uint64()
	var got uint64
	if after > before {
		got = after - before
	}
	r.reclaims.Add(1)
	r.returned.Add(got)
	r.spent.Add(int64(took))
	if r.opts.Log != nil {
		r.opts.Log.Debug("heap memory returned to the OS after a busy period", "returned_mb", float64(got)/1e6,
			"live_mb", float64(r.samples[3].Value.Uint64())/1e6, "took", took)
	}
}
