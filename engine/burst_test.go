package engine

import "testing"

// A batch slice grown by a burst is let go once a round uses little of it; pooled output
// buffers above 16 KiB and above twice the largest round of a sweep interval leave the
// loop's pool at the end of that interval, busy or not, and stay while rounds use them.
func TestBurstCapacityIsReleased(t *testing.T) {
	big := make([]int, 10, 100000)
	if got := shrunk(big); got != nil {
		t.Fatalf("mostly unused burst capacity kept: cap %d", cap(got))
	}
	full := make([]int, 90000, 100000)
	if got := shrunk(full); cap(got) != 100000 || len(got) != 0 {
		t.Fatalf("busy batch: len %d cap %d, want emptied and kept", len(got), cap(got))
	}
	small := make([]int, 0, 64)
	if got := shrunk(small); cap(got) != 64 {
		t.Fatalf("small batch dropped")
	}
	l := &loop{}
	l.putBuf(make([]byte, 0, 4096))
	l.putBuf(make([]byte, 0, 60<<10))
	l.putBuf(make([]byte, 0, 2<<20)) // above maxPooledOut: never pooled
	if len(l.free) != 2 {
		t.Fatalf("%d pooled buffers, want 2", len(l.free))
	}
	interval := func(roundOut int) {
		for i := 0; i < sweepSlices; i++ {
			if roundOut > 0 {
				b := l.getBuf()
				l.putBuf(append(b, make([]byte, roundOut)...))
			}
			l.trimFree()
		}
	}
	interval(40 << 10) // rounds of 40 KiB: the 60 KiB buffer is within twice that
	if len(l.free) != 2 {
		t.Fatalf("a loop building 40 KiB rounds kept %d buffers, want 2", len(l.free))
	}
	// Small steady traffic (a probe): the burst's buffer goes although the loop is not idle,
	// at the end of the interval and not before.
	for i := 0; i < sweepSlices-1; i++ {
		l.putBuf(append(l.getBuf(), make([]byte, 100)...))
		l.trimFree()
	}
	if len(l.free) != 2 {
		t.Fatalf("trimmed before the interval ended: %d buffers", len(l.free))
	}
	l.trimFree()
	if len(l.free) != 1 || cap(l.free[0]) > trimFloor {
		t.Fatalf("after an interval of 100-byte rounds: %d buffers, first cap %d", len(l.free), cap(l.free[0]))
	}
	interval(0) // idle: buffers up to trimFloor stay
	if len(l.free) != 1 {
		t.Fatalf("an idle trim dropped a small buffer: %d left", len(l.free))
	}
	for range 64 { // a round that wrote 64 connections: 64 pooled buffers
		l.free = append(l.free, make([]byte, 0, 4096))
	}
	interval(0)
	if len(l.free) != trimKeep {
		t.Fatalf("after a trim %d buffers pooled, want %d", len(l.free), trimKeep)
	}
}

// A loop's delivery batches (inbox, its spare, the outboxes) keep the capacity its rounds use
// and give back, one sweep interval later, what a burst grew beyond twice that.
func TestDeliveryBatchesTrimmedByUse(t *testing.T) {
	l := &loop{}
	l.inbox = make([]delivery, 0, 1000)
	l.spare = make([]delivery, 0, 1000)
	l.outbox = [][]delivery{make([]delivery, 0, 1000), make([]delivery, 0, 32), nil}
	interval := func(peak int) {
		for i := 0; i < sweepSlices; i++ {
			l.deliveryPeak = max(l.deliveryPeak, peak)
			l.trimFree()
		}
	}
	interval(600) // rounds of 600 deliveries: 1,000 is within twice that
	if cap(l.inbox) != 1000 || cap(l.spare) != 1000 || cap(l.outbox[0]) != 1000 {
		t.Fatalf("a loop using 600-delivery rounds lost its batches: caps %d %d %d", cap(l.inbox), cap(l.spare), cap(l.outbox[0]))
	}
	interval(10) // the burst is over: small rounds
	if cap(l.inbox) != 0 || cap(l.spare) != 0 || cap(l.outbox[0]) != 0 {
		t.Fatalf("after an interval of 10-delivery rounds the burst's batches stayed: caps %d %d %d", cap(l.inbox), cap(l.spare), cap(l.outbox[0]))
	}
	if cap(l.outbox[1]) != 32 {
		t.Fatalf("a batch under trimDeliveryFloor was dropped")
	}
	l.inbox = make([]delivery, 5, 1000) // deliveries waiting: the inbox stays
	interval(0)
	if cap(l.inbox) != 1000 || len(l.inbox) != 5 {
		t.Fatalf("a non-empty inbox was trimmed: len %d cap %d", len(l.inbox), cap(l.inbox))
	}
}
