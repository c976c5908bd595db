package engine

import (
	"sync/atomic"
	"time"
)

// Event-loop lag: how long a loop takes to pick up a task handed to it, because it is busy
// with other callbacks (or waits for a CPU, or for a collection's stop-the-world). gnet's
// ticker goroutine hands every loop its sweep task every sweep slice (sweep interval / 10,
// 100 ms by default) and notes when; the sweep observes the difference when it starts. The
// samples are taken at regular moments, so their distribution is the wait of a task arriving
// at a random time: a loop held 2 s yields some twenty samples from 2 s down to 0.1 s. It
// costs the loops one ring read and one bucket search per sweep slice, nothing per message.

// lagRingSize bounds the sweeps outstanding on one loop: past it the ticker hands no more
// sweep tasks to that loop (it has not run one for lagRingSize sweep slices, 6.4 s by
// default; queuing more would only make it run them back to back when it wakes).
const lagRingSize = 64

// lagRing holds the times the ticker handed sweep tasks to one loop, oldest first. One
// producer (the ticker goroutine, push) and one consumer (the loop, pop).
type lagRing struct {
	head, tail atomic.Uint64 // pop at head, push at tail
	at         [lagRingSize]atomic.Int64
}

// push notes a sweep task handed at t (unix nanoseconds); false when the ring is full (the
// task must then not be handed).
func (r *lagRing) push(t int64) bool {
	tail := r.tail.Load()
	if tail-r.head.Load() >= lagRingSize {
		return false
	}
	r.at[tail%lagRingSize].Store(t)
	r.tail.Store(tail + 1)
	return true
}

// pop returns when the oldest outstanding sweep task was handed; false when none is noted.
func (r *lagRing) pop() (int64, bool) {
	head := r.head.Load()
	if head == r.tail.Load() {
		return 0, false
	}
	t := r.at[head%lagRingSize].Load()
	r.head.Store(head + 1)
	return t, true
}

// lagBounds are the upper bounds of the loop-lag buckets, finer than the latency histograms'
// at the low end (an idle loop answers in microseconds); the last bucket is +Inf.
var lagBounds = [...]int64{
	int64(100 * time.Microsecond), int64(250 * time.Microsecond), int64(500 * time.Microsecond),
	int64(time.Millisecond), int64(2500 * time.Microsecond), int64(5 * time.Millisecond),
	int64(10 * time.Millisecond), int64(25 * time.Millisecond), int64(50 * time.Millisecond),
	int64(100 * time.Millisecond), int64(250 * time.Millisecond), int64(500 * time.Millisecond),
	int64(time.Second), int64(2500 * time.Millisecond), int64(5 * time.Second), int64(10 * time.Second),
}

// lagHist is one loop's loop-lag histogram: counts per bucket (not cumulative), the sum and
// the largest lag, in nanoseconds. Owned by the loop.
type lagHist struct {
	Counts   [len(lagBounds) + 1]uint64
	Sum, Max uint64
}

func (h *lagHist) observe(d int64) {
	d = max(d, 0)
	i := 0
	for i < len(lagBounds) && d > lagBounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += uint64(d)
	h.Max = max(h.Max, uint64(d))
}

func (h *lagHist) add(o *lagHist) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Sum += o.Sum
	h.Max = max(h.Max, o.Max)
}

// handSweep notes when the ticker hands loop l its sweep task (at, unix nanoseconds); false
// when l already has lagRingSize sweeps outstanding (the task is then not handed).
func (l *loop) handSweep(at int64) bool { return l.lagSent.push(at) }

// observeLag runs at the start of a sweep, after begin: it counts how long the sweep waited.
func (l *loop) observeLag() {
	if at, ok := l.lagSent.pop(); ok {
		l.stats.LoopLag.observe(l.now - at)
	}
}

// loopLagHistogram is the emqx_loop_lag_seconds entry of Node.Histograms.
func loopLagHistogram(h *lagHist) Histogram {
	out := Histogram{
		Name:   "emqx_loop_lag_seconds",
		Help:   "Time an event loop took to pick up its sweep task, handed every sweep slice (100 ms by default): the time it was busy with other work first.",
		Bounds: make([]time.Duration, len(lagBounds)),
		Counts: append([]uint64(nil), h.Counts[:]...),
		Sum:    time.Duration(h.Sum),
		Max:    time.Duration(h.Max),
	}
	for i, b := range lagBounds {
		out.Bounds[i] = time.Duration(b)
	}
	for _, c := range h.Counts {
		out.Count += c
	}
	return out
}
