// Package procboost gives the Go runtime more processors (GOMAXPROCS) while a connect storm
// queues for an authentication plugin's backend, and takes them back once it is over.
//
// The event loops and the plugins' workers share the runtime's processors (Ps), one per CPU
// by default. In a storm through emqx_auth_http or emqx_auth_redis the workers wake by the
// dozen whenever the backend answers, and a loop that returns from epoll_wait while every P
// runs a worker waits in the Go scheduler's queue for one: the publish latency of clients
// already connected rose 2–3× in the suite's storm-http row, and scheduler traces showed loops
// waiting up to 6 ms for a P while their own runs stayed under 150 µs. With more Ps than CPUs
// the loops' threads and the workers' threads all run, and the kernel, which preempts on
// wake-up, shares the CPUs between them: twice the CPUs' Ps brought that row's latency ratio
// from 2.2 to 1.4. More Ps at all times cost throughput instead (−14 % on the fan-in row:
// threads that hand messages to each other then wait for the kernel to run them), so the
// booster adds them only while clients are queued for a plugin's workers
// (engine.AuthStorm), and puts the runtime's default back once no client has waited for
// Options.Quiet.
//
// An operator's own GOMAXPROCS (the environment variable) turns the booster off, and so does
// a CPU limit of the process's cgroup (a container's quota, which the runtime's default
// follows): more threads than the quota would have the whole process throttled.
package procboost

import (
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Options tune the booster; zero values take the defaults.
type Options struct {
	// Share is how many Ps are added during a storm, as a share of the runtime's default
	// (node.auth_storm_procs; default 1: as many again); at least one is added.
	Share float64
	// Quiet is how long no client may have queued before the Ps are taken back (default 1 s).
	Quiet time.Duration
	// Check is how often the queues are looked at during a storm (default 100 ms).
	Check time.Duration
	// Log receives a debug line at each change; nil: none.
	Log *slog.Logger
}

func (o *Options) withDefaults() {
	if o.Share <= 0 {
		o.Share = 1
	}
	if o.Quiet <= 0 {
		o.Quiet = time.Second
	}
	if o.Check <= 0 {
		o.Check = 100 * time.Millisecond
	}
}

// Booster raises and restores GOMAXPROCS. Safe for concurrent use; Stop ends its goroutine
// and puts the runtime's default back.
type Booster struct {
	opts  Options
	storm <-chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	procs  atomic.Int64  // the GOMAXPROCS in force
	boosts atomic.Uint64 // storms that raised it
}

// Start starts the booster for the process (one Go runtime whatever the number of nodes)
// and adds scheduler.procs (the GOMAXPROCS in force) and scheduler.boosts (how many times
// the booster raised it) to n's metrics. It returns nil, and changes nothing, when the
// environment sets GOMAXPROCS or a CPU quota limits the process (offBecause).
func Start(n *engine.Node, opts Options) *Booster {
	if why := offBecause(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0), runtime.NumCPU()); why != "" {
		if opts.Log != nil {
			opts.Log.Info("no extra processors for authentication storms: "+why, "GOMAXPROCS", runtime.GOMAXPROCS(0), "cpus", runtime.NumCPU())
		}
		return nil
	}
	opts.withDefaults()
	b := &Booster{opts: opts, storm: engine.AuthStorm(), stop: make(chan struct{}), done: make(chan struct{})}
	b.procs.Store(int64(runtime.GOMAXPROCS(0)))
	if n != nil {
		n.AddMetrics(b.metrics)
	}
	go b.run()
	return b
}

// offBecause says why the booster must not run, "" when it may: an operator's GOMAXPROCS
// (env) is theirs to choose; and a default below the CPUs the process may run on (cpus) is
// the runtime following a CPU limit of the process's cgroup (a container's quota). More
// threads than that quota would use it up early in each period and the whole process would
// then be throttled to its end, a stall of every loop instead of a shorter wait.
func offBecause(env string, procs, cpus int) string {
	switch {
	case env != "":
		return "GOMAXPROCS is set in the environment"
	case procs < cpus:
		return "a CPU limit (cgroup quota) sets the processors below the CPUs; more threads would be throttled"
	}
	return ""
}

// boosted is the GOMAXPROCS of a storm on top of the default base: share of it more, at
// least one.
func boosted(base int, share float64) int {
	return base + max(int(math.Ceil(share*float64(base))), 1)
}

// Stop ends the booster's goroutine and puts the runtime's default GOMAXPROCS back. Safe to
// call more than once and on nil.
func (b *Booster) Stop() {
	if b == nil {
		return
	}
	b.once.Do(func() { close(b.stop) })
	<-b.done
}

// Procs returns the GOMAXPROCS the booster last set or found.
func (b *Booster) Procs() int { return int(b.procs.Load()) }

// Boosts returns how many storms raised GOMAXPROCS.
func (b *Booster) Boosts() uint64 { return b.boosts.Load() }

func (b *Booster) metrics() []engine.Metric {
	return []engine.Metric{
		{Name: "scheduler.procs", Value: uint64(b.procs.Load()), Gauge: true},
		{Name: "scheduler.boosts", Value: b.boosts.Load()},
	}
}

func (b *Booster) run() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case <-b.storm:
			if engine.AuthWaiting() > 0 && !b.ride() {
				return
			}
		}
	}
}

// ride raises GOMAXPROCS for one storm and restores the default once no client has waited
// for Options.Quiet; it reports false when the booster was stopped meanwhile (the default is
// then back too).
func (b *Booster) ride() bool {
	procs := boosted(runtime.GOMAXPROCS(0), b.opts.Share)
	runtime.GOMAXPROCS(procs)
	b.procs.Store(int64(procs))
	b.boosts.Add(1)
	began := time.Now()
	if b.opts.Log != nil {
		b.opts.Log.Debug("authentication storm: more processors", "GOMAXPROCS", procs, "waiting", engine.AuthWaiting())
	}
	t := time.NewTicker(b.opts.Check)
	defer t.Stop()
	quietSince := time.Time{}
	for {
		select {
		case <-b.stop:
			b.restore(began)
			return false
		case <-b.storm: // still queueing
			quietSince = time.Time{}
		case now := <-t.C:
			if engine.AuthWaiting() > 0 {
				quietSince = time.Time{}
				continue
			}
			if quietSince.IsZero() {
				quietSince = now
				continue
			}
			if now.Sub(quietSince) >= b.opts.Quiet {
				b.restore(began)
				return true
			}
		}
	}
}

// restore puts the runtime's default GOMAXPROCS back (the CPUs available to the process,
// which the runtime then follows again as they change). A storm signal sent before is
// dropped first: one sent after it starts the next ride.
func (b *Booster) restore(began time.Time) {
	select {
	case <-b.storm:
	default:
	}
	runtime.SetDefaultGOMAXPROCS()
	n := runtime.GOMAXPROCS(0)
	b.procs.Store(int64(n))
	if b.opts.Log != nil {
		b.opts.Log.Debug("authentication storm over: default processors", "GOMAXPROCS", n, "boosted_for", time.Since(began).Round(time.Millisecond))
	}
}
