package engine

import "time"

// Latency histograms of /metrics: CONNACK time, authentication latency and delivery latency.
// Each loop counts into buckets of its own loopStats with plain increments (the loop owns
// them); the sweep's copy of loopStats carries them to readers, and Node.Histograms sums the
// loops at read time, like every other counter. Times come from the loops' round clock
// (loop.now, read once per callback): a duration inside one round reads as 0.

// wallNanos is time.Now in unix nanoseconds, for durations measured off the loops.
func wallNanos() int64 { return time.Now().UnixNano() }

// histBounds are the upper bounds of the buckets, in nanoseconds; the last bucket is +Inf.
var histBounds = [...]int64{
	int64(500 * time.Microsecond), int64(time.Millisecond), int64(2500 * time.Microsecond),
	int64(5 * time.Millisecond), int64(10 * time.Millisecond), int64(25 * time.Millisecond),
	int64(50 * time.Millisecond), int64(100 * time.Millisecond), int64(250 * time.Millisecond),
	int64(500 * time.Millisecond), int64(time.Second), int64(2500 * time.Millisecond),
	int64(5 * time.Second), int64(10 * time.Second),
}

// histBuckets counts the buckets: one per bound and +Inf.
const histBuckets = len(histBounds) + 1

// deliverySampleMask makes the delivery latency observe 1 delivery in 64 per loop, so that the
// QoS 0 path pays an increment and a test, not a bucket search.
const deliverySampleMask = 63

// hist is one loop's histogram: counts per bucket (not cumulative) and the sum of the observed
// durations in nanoseconds. Owned by the loop.
type hist struct {
	Counts [histBuckets]uint64
	Sum    uint64
}

// observe adds one duration d (nanoseconds; a negative one counts as 0).
func (h *hist) observe(d int64) {
	d = max(d, 0)
	i := 0
	for i < len(histBounds) && d > histBounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += uint64(d)
}

// add adds o's counts to h.
func (h *hist) add(o *hist) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Sum += o.Sum
}

// Histogram is a snapshot of one latency histogram of the node, summed over its loops.
type Histogram struct {
	Name string // Prometheus name, without the _bucket/_sum/_count suffixes
	Help string
	// Bounds are the buckets' upper bounds; Counts has one more entry, for +Inf. Counts are
	// per bucket, not cumulative.
	Bounds []time.Duration
	Counts []uint64
	Sum    time.Duration
	Count  uint64
	// Max is the largest duration observed, for the histograms that track it (0 otherwise).
	Max time.Duration
}

// Histograms returns the node's latency histograms:
//   - emqx_connack_duration_seconds: from the accept (or the end of a max_conn_rate delay or
//     of a PROXY header) to the CONNACK that admits the client;
//   - emqx_auth_duration_seconds: one run of the authentication chain on the side pool
//     (connections that need no chain are not observed);
//   - emqx_delivery_duration_seconds: from the publish received to the delivery written to a
//     subscriber's output, sampled: one delivery in 64 per loop; deliveries sent with RETAIN
//     set (retained replays at subscribe, Retain As Published) and retries are not observed;
//     time spent queued (in-flight window, offline session) is part of it;
//   - emqx_loop_lag_seconds: how long an event loop took to pick up its sweep task, handed
//     every sweep slice (looplag.go), with Max.
//
// Safe from any goroutine; the loops' part may lag by one sweep interval.
func (n *Node) Histograms() []Histogram {
	ls := n.sumLoops()
	bounds := make([]time.Duration, len(histBounds))
	for i, b := range histBounds {
		bounds[i] = time.Duration(b)
	}
	mk := func(name, help string, h *hist) Histogram {
		out := Histogram{Name: name, Help: help, Bounds: bounds, Counts: append([]uint64(nil), h.Counts[:]...), Sum: time.Duration(h.Sum)}
		for _, c := range h.Counts {
			out.Count += c
		}
		return out
	}
	return []Histogram{
		mk("emqx_connack_duration_seconds", "Time from a connection's accept to the CONNACK that admits it.", &ls.ConnackTime),
		mk("emqx_auth_duration_seconds", "Time of one run of the authentication chain (side pool).", &ls.AuthTime),
		mk("emqx_delivery_duration_seconds", "Time from a publish received to its delivery written to a subscriber, sampled 1 in 64.", &ls.DeliveryTime),
		loopLagHistogram(&ls.LoopLag),
	}
}
