package engine

// After a burst. The loop's reusable buffers grow to the largest round they served; without a
// bound, one burst (a fan-out of 100,000 deliveries, a megabyte of output to one connection)
// would pin that memory for the life of the process, and the soak saw the live heap stay
// several times its baseline after the churn stopped (tools/soak). So a batch slice whose
// capacity is far above what its last round used goes to the collector, and output buffers
// above maxPooledOut are not kept.

// maxPooledOut is the largest output buffer a loop keeps for reuse (loop.putBuf). A busy loop
// keeps the buffers its rounds need: dropping them after every round made each round allocate
// its output anew (p2p QoS 0 cost 60 % more CPU per message); trimFree drops, once per sweep
// interval, those far larger than what the loop's rounds built in that interval.
const maxPooledOut = 1 << 20

// trimFloor is the capacity up to which a pooled output buffer is kept whatever the rounds
// built.
const trimFloor = 16 << 10

// trimKeep is how many pooled output buffers a trim keeps at most: a loop pools up to 64
// (one per connection written in a round), 16 KiB each, 1 MiB per loop after a burst;
// allocating the rest again costs a busy loop at most 48 allocations a second.
const trimKeep = 16

// trimDeliveryFloor is the capacity up to which a loop's delivery batches (its outboxes,
// inbox and spare) are kept whatever its rounds used.
const trimDeliveryFloor = 64

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

// trimFree runs at every sweep slice; once per sweep interval (sweepSlices slices) it drops
// the pooled output buffers larger than max(trimFloor, 2 × the largest output a round of this
// loop built in that interval, loop.outPeak), keeps trimKeep of the others at most, and starts
// a new interval. A busy loop keeps the
// buffers its rounds use; a burst's buffers go one interval after the burst, also while
// steady small traffic (a probe, a few flows) keeps the loop from being idle. Dropping is
// once per interval at most, so a loop whose rounds alternate between small and large
// allocates a large buffer again at most once a second.
func (l *loop) trimFree() {
	if l.trimSlices++; l.trimSlices < sweepSlices {
		return
	}
	l.trimDeliveries()
	limit := max(trimFloor, 2*l.outPeak)
	l.trimSlices, l.outPeak = 0, 0
	kept := l.free[:0]
	for _, b := range l.free {
		if cap(b) <= limit && len(kept) < trimKeep {
			kept = append(kept, b)
		}
	}
	clear(l.free[len(kept):])
	l.free = kept
}

// trimDeliveries drops the loop's empty delivery batches whose capacity is above
// max(trimDeliveryFloor, 2 × the largest batch a round of this loop sent or applied in the
// interval, loop.deliveryPeak), and starts a new interval. shrunk keeps a batch of up to
// shrunkBatch entries (72 KiB) at every round; without this trim, the inbox, its spare and
// every outbox of a loop kept what the churn's largest rounds needed after the churn ended.
func (l *loop) trimDeliveries() {
	limit := max(trimDeliveryFloor, 2*l.deliveryPeak)
	l.deliveryPeak = 0
	if cap(l.spare) > limit {
		l.spare = nil
	}
	for i, b := range l.outbox {
		if len(b) == 0 && cap(b) > limit {
			l.outbox[i] = nil
		}
	}
	l.inboxMu.Lock()
	if len(l.inbox) == 0 && cap(l.inbox) > limit {
		l.inbox = nil
	}
	l.inboxMu.Unlock()
}
