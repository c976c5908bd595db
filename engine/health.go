package engine

import (
	"sync/atomic"
	"time"
)

// connectEpoch is the last value of connectClock.
var connectEpoch atomic.Int64

// connectClock returns the current unix time in nanoseconds, or one more than the last value
// it returned if the wall clock has not moved past it: its values never repeat nor decrease
// within the process. ClientEvent.ConnectedAt comes from it, so that the connects of one client
// id are ordered even when they fall in the same clock tick. Safe from any goroutine.
func (n *Node) connectClock() int64 {
	now := time.Now().UnixNano()
	for {
		last := connectEpoch.Load()
		v := max(now, last+1)
		if connectEpoch.CompareAndSwap(last, v) {
			return v
		}
	}
}

// StoreFailed reports whether the durable store is failed (disk full or unwritable): retained
// messages and persistent sessions are then kept in memory only, and QoS 1/2 publishes that
// need the store are refused, until it recovers. Always false without a store. Safe from any
// goroutine; cheap (an atomic load unless the store has failed since start).
func (n *Node) StoreFailed() bool {
	return n.storeHint.Load() && n.dur.down()
}
