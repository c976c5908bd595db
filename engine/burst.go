package engine

// After a burst. The loop's reusable buffers grow to the largest round they served; without a
// bound, one burst (a fan-out of 100,000 deliveries, a megabyte of output to one connection)
// would pin that memory for the life of the process, and the soak saw the live heap stay
// several times its baseline after the churn stopped (tools/soak). So a batch slice whose
// capacity is far above what its last round used goes to the collector, and output buffers
// above maxPooledOut are not kept.

// maxPooledOut is the largest output buffer a loop keeps for reuse (loop.putBuf). A busy loop
// keeps its large buffers: dropping them after every round made each round allocate its
// output anew (p2p QoS 0 cost 60 % more CPU per message); trimFree lets them go once the
// loop has been idle for a sweep.
const maxPooledOut = 1 << 20

// shrunkBatch is the capacity from which an emptied batch slice is dropped when its last
// round used less than a quarter of it.
const shrunkBatch = 1024

// shrunk returns batch emptied for reuse, or nil when it is large and was mostly unused: the
// next round allocates what it needs. batch's elements must already be cleared.
func shrunk[T any](batch []T) []T {
	if cap(batch) > shrunkBatch && len(batch) < cap(batch)/4 {
		return nil
	}
	return batch[:0]
}

// trimFree drops the pooled output buffers that a burst grew beyond 16 KiB once the loop has
// taken no output buffer since the previous sweep: the sweep calls it, so a busy loop keeps
// reusing them and an idle one lets them go.
func (l *loop) trimFree() {
	if l.bufGets != l.bufGetsSwept {
		l.bufGetsSwept = l.bufGets
		return
	}
	kept := l.free[:0]
	for _, b := range l.free {
		if cap(b) <= 16<<10 {
			kept = append(kept, b)
		}
	}
	clear(l.free[len(kept):])
	l.free = kept
}
