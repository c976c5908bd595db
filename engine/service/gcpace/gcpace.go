// Package gcpace bounds how often the garbage collector runs while the node allocates fast
// and its live heap is small.
//
// With GOGC=100 the runtime collects each time the heap has grown by its live size since
// the last collection. A node whose live heap is small (a few thousand clients: tens of
// megabytes) and that allocates fast collects very often: a cluster node forwarding
// 1.5 M msg/s receives ~250 MB/s of frames that the NATS libraries allocate afresh, which
// with a 20 MB live heap is a dozen collections a second and a ninth of the node's CPU; a
// connect storm allocates each new client's state and collects as often. The collections'
// mark workers also take a processor from the event loops for a while each time.
//
// The pacer watches the allocation rate (runtime/metrics, on its own goroutine, never an
// event loop) and raises GOGC so that collections come at most Options.MaxRate times a
// second: the heap may then grow by rate/MaxRate between two collections instead of by the
// live heap, but never by more than Options.MaxExtra beyond what GOGC=100 allows. A large
// node (a live heap of gigabytes) already collects rarely and is left at GOGC=100; a quiet
// node goes back to GOGC=100 within a check or two, and the memory reclaimer
// (engine/service/memreclaim) then returns what the busy period left. GOMEMLIMIT, when set,
// still bounds the heap: the runtime collects at the limit whatever GOGC says. An operator's
// own GOGC (the environment variable) turns the pacer off.
package gcpace

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Options tune the pacer; zero values take the defaults.
type Options struct {
	// MaxRate is how many collections a second the pacer aims not to exceed (default 4).
	MaxRate float64
	// MaxExtra is the most heap memory the pacer adds to GOGC=100's headroom (default
	// 64 MiB).
	MaxExtra uint64
	// Check is how often the allocation rate is read (default 250 ms).
	Check time.Duration
	// Log receives a debug line when GOGC changes; nil: none.
	Log *slog.Logger
}

func (o *Options) withDefaults() {
	if o.MaxRate <= 0 {
		o.MaxRate = 4
	}
	if o.MaxExtra == 0 {
		o.MaxExtra = 64 << 20
	}
	if o.Check <= 0 {
		o.Check = 250 * time.Millisecond
	}
}

// baseGOGC is the runtime's default, which the pacer never goes below.
const baseGOGC = 100

const (
	mAllocs = "/gc/heap/allocs:bytes" // cumulative bytes allocated
	mLive   = "/gc/heap/live:bytes"   // live heap marked by the last collection
)

// Pacer adjusts GOGC. Safe for concurrent use; Stop ends its goroutine and puts GOGC back
// to the default (the pacer runs only when the environment does not set GOGC).
type Pacer struct {
	opts Options
	stop chan struct{}
	done chan struct{}
	once sync.Once

	samples    []metrics.Sample
	lastAllocs uint64
	lastAt     time.Time
	rate       float64 // smoothed allocation rate, bytes per second
	percent    atomic.Int64
	changes    atomic.Uint64
}

// Start starts the pacer for the process (one Go heap whatever the number of nodes) and
// adds memory.gc_percent (the GOGC in force) and memory.gc_percent_changes to n's metrics.
// It returns nil, and changes nothing, when the environment sets GOGC.
func Start(n *engine.Node, opts Options) *Pacer {
	if os.Getenv("GOGC") != "" {
		if opts.Log != nil {
			opts.Log.Info("GC pacing off: GOGC is set in the environment", "GOGC", os.Getenv("GOGC"))
		}
		return nil
	}
	p := newPacer(opts)
	if n != nil {
		n.AddMetrics(p.metrics)
	}
	go p.run()
	return p
}

func newPacer(opts Options) *Pacer {
	opts.withDefaults()
	p := &Pacer{opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	p.samples = []metrics.Sample{{Name: mAllocs}, {Name: mLive}}
	metrics.Read(p.samples)
	p.lastAllocs, p.lastAt = p.samples[0].Value.Uint64(), time.Now()
	p.percent.Store(baseGOGC)
	return p
}

// Stop ends the pacer's goroutine and puts GOGC back to the runtime's default. Safe to
// call more than once and on nil.
func (p *Pacer) Stop() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// Percent returns the GOGC the pacer last set.
func (p *Pacer) Percent() int { return int(p.percent.Load()) }

func (p *Pacer) metrics() []engine.Metric {
	return []engine.Metric{
		{Name: "memory.gc_percent", Value: uint64(p.percent.Load()), Gauge: true},
		{Name: "memory.gc_percent_changes", Value: p.changes.Load()},
	}
}

func (p *Pacer) run() {
	defer close(p.done)
	t := time.NewTicker(p.opts.Check)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			if p.percent.Load() != baseGOGC {
				debug.SetGCPercent(baseGOGC)
			}
			return
		case now := <-t.C:
			p.check(now)
		}
	}
}

// check reads the allocation rate and live heap and sets GOGC when the wanted value moved
// by more than a tenth.
func (p *Pacer) check(now time.Time) {
	metrics.Read(p.samples)
	allocs, live := p.samples[0].Value.Uint64(), p.samples[1].Value.Uint64()
	dt := now.Sub(p.lastAt).Seconds()
	if dt <= 0 {
		return
	}
	rate := float64(allocs-p.lastAllocs) / dt
	p.lastAllocs, p.lastAt = allocs, now
	// Up at once, down by halves: a busy node's rate varies from check to check, and a
	// dip would otherwise bring a burst of collections back.
	if rate >= p.rate {
		p.rate = rate
	} else {
		p.rate = (p.rate + rate) / 2
	}
	want := wanted(p.rate, live, p.opts.MaxRate, p.opts.MaxExtra)
	cur := p.percent.Load()
	if want == cur || math.Abs(float64(want-cur)) < float64(cur)/10 && want != baseGOGC {
		return
	}
	debug.SetGCPercent(int(want))
	p.percent.Store(want)
	p.changes.Add(1)
	if p.opts.Log != nil {
		p.opts.Log.Debug("GC pacing", "GOGC", want, "alloc_rate_mb_s", int(p.rate/(1<<20)), "live_mb", live>>20)
	}
}

// wanted is the GOGC that lets the heap grow by rate/maxRate between collections, at least
// the default and with at most maxExtra beyond the default's headroom (the live heap).
func wanted(rate float64, live uint64, maxRate float64, maxExtra uint64) int64 {
	if live == 0 {
		return baseGOGC
	}
	grow := rate / maxRate
	if limit := float64(live) + float64(maxExtra); grow > limit {
		grow = limit
	}
	pc := int64(grow * 100 / float64(live))
	return max(pc, baseGOGC)
}
