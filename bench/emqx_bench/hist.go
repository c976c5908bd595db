package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// The latency histogram is log-linear in the manner of HdrHistogram: values below
// 2^subBits are counted exactly, and every power of two above is split into 2^(subBits-1)
// equal sub-buckets, so any recorded value is reported within 1/2^(subBits-1) (0.8 %) of
// itself. Values are nanoseconds; 2^42 ns (about 73 minutes) is the largest bucket, larger
// values are clamped into it and still counted in Max exactly.
const (
	subBits     = 8
	subCount    = 1 << subBits // exact values below this
	halfCount   = subCount / 2 // sub-buckets per power of two above it
	maxExponent = 42 - subBits // highest shift
	histBuckets = subCount + (maxExponent+1)*halfCount
)

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // v>>shift is in [halfCount, subCount)
	if shift > maxExponent+1 {
		return histBuckets - 1
	}
	return subCount + (shift-1)*halfCount + int(v>>shift) - halfCount
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := (i-subCount)/halfCount + 1
	sub := uint64((i-subCount)%halfCount + halfCount)
	lo = sub << shift
	return lo, lo + 1<<shift - 1
}

// Histogram is a plain log-linear histogram of nanosecond values. The zero value is not
// usable: make one with NewHistogram. Not safe for concurrent use; the event loops record
// into liveHistogram and readers take snapshots.
type Histogram struct {
	counts   []uint64
	total    uint64
	sum      float64
	min, max uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, histBuckets), min: math.MaxUint64}
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest recorded value exactly (0 when empty).
func (h *Histogram) Max() uint64 { return h.max }

// Min returns the smallest recorded value exactly (0 when empty).
func (h *Histogram) Min() uint64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Mean returns the arithmetic mean of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value at quantile q (0 < q <= 1): the highest value equivalent to the
// smallest bucket whose cumulative count reaches ceil(q*Count), never more than Max.
// It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	rank = min(rank, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return min(max(hi, h.Min()), h.max)
		}
	}
	return h.max
}

// Buckets calls f for every non-empty bucket in increasing order with its bounds and count.
func (h *Histogram) Buckets(f func(lo, hi, count uint64)) {
	for i, c := range h.counts {
		if c != 0 {
			lo, hi := bucketBounds(i)
			f(lo, hi, c)
		}
	}
}

// liveHistogram is recorded into by one event loop and read by the progress reporter.
// Every field is written by its owner only, with atomic Load+Store (no read-modify-write
// instruction on the hot path), so a reader sees each count whole, if slightly stale.
type liveHistogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; overflows after 584 years of summed latency
	min    atomic.Uint64 // stored as ^min so that the zero value means "none"
	max    atomic.Uint64
}

// record adds v; only the owning loop calls it.
func (l *liveHistogram) record(v uint64) {
	b := &l.counts[bucketOf(v)]
	b.Store(b.Load() + 1)
	l.total.Store(l.total.Load() + 1)
	l.sum.Store(l.sum.Load() + v)
	if inv := ^v; inv > l.min.Load() {
		l.min.Store(inv)
	}
	if v > l.max.Load() {
		l.max.Store(v)
	}
}

// snapshotInto merges the current counts into h. Safe from any goroutine.
func (l *liveHistogram) snapshotInto(h *Histogram) {
	if l.total.Load() == 0 {
		return
	}
	var n uint64 // the sum of the counts read, so that Quantile stays consistent
	for i := range l.counts {
		c := l.counts[i].Load()
		h.counts[i] += c
		n += c
	}
	h.total += n
	h.sum += float64(l.sum.Load())
	h.min = min(h.min, ^l.min.Load())
	h.max = max(h.max, l.max.Load())
}
