package engine

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// loopStats are counters owned by one loop (plain increments, no atomics on the hot path).
// Readers on other goroutines may see slightly stale values; Node.Stats sums them.
type loopStats struct {
	packetsIn, bytesIn, bytesOut       uint64
	connect, connack, connRefused      uint64
	publishIn, publishOut              uint64
	qosIn, qosOut                      [4]uint64
	acksIn, acksOut, acksMissed        [4]uint64 // PUBACK, PUBREC, PUBREL, PUBCOMP
	subscribe, suback, subRefused      uint64
	unsubscribe, unsuback              uint64
	pingreq                            uint64
	disconnectIn, disconnectSent       uint64
	routed, noSubscribers              uint64
	dropped, queueDropped, slowDropped uint64
	expired, tooLarge                  uint64
	aclDenied, protocolErrors          uint64
	idleTimeouts, keepaliveTimeouts    uint64
	retries, awaitRelExpired           uint64
	willsSent, retainedSent            uint64
	slowClosed                         uint64
	authFailures, authOverload         uint64
	_                                  [64]byte
}

// nodeStats are node-wide counters updated off the hot path.
type nodeStats struct {
	connections     atomic.Int64
	maxConnections  atomic.Int64
	refusedMaxConn  atomic.Uint64
	refusedRate     atomic.Uint64
	retained        atomic.Uint64
	retainRefused   atomic.Uint64
	dropped         atomic.Uint64
	willsSent       atomic.Uint64
	sessionsExpired atomic.Uint64
}

func (s *nodeStats) connOpened() {
	n := s.connections.Add(1)
	for m := s.maxConnections.Load(); n > m && !s.maxConnections.CompareAndSwap(m, n); m = s.maxConnections.Load() {
	}
}

func (s *nodeStats) connClosed() { s.connections.Add(-1) }

// Stats is a snapshot of the node's counters, for $SYS, the API and /metrics.
type Stats struct {
	Connections, ConnectionsMax        int64
	Sessions, SessionsMax              int64
	PersistentSessions, PersistentMax  int64
	Subscriptions, SharedSubscriptions int64
	Topics, TopicsMax                  int64
	Retained                           int64

	PacketsReceived, PacketsSent     uint64
	BytesReceived, BytesSent         uint64
	MessagesReceived, MessagesSent   uint64
	MessagesDropped, MessagesExpired uint64
	QoSReceived, QoSSent             [3]uint64
}

// Stats sums every loop's counters. Safe from any goroutine; loop counters come from the
// copy each loop takes at its sweep, so they may lag by one sweep interval.
func (n *Node) Stats() Stats {
	var st Stats
	st.Connections = n.stats.connections.Load()
	st.ConnectionsMax = n.stats.maxConnections.Load()
	st.Sessions, st.SessionsMax = n.reg.Len(), n.reg.Max()
	st.PersistentSessions, st.PersistentMax = n.reg.Persistent()
	ts := n.subs.Stats()
	st.Subscriptions = ts.Subscriptions
	st.SharedSubscriptions = ts.SharedSubscriptions
	st.Topics, st.TopicsMax = ts.Filters, ts.FiltersMax
	st.Retained = int64(n.retained.Len())
	st.MessagesDropped = n.stats.dropped.Load()
	loops := *n.loops.Load()
	n.loopsMu.Lock()
	if n.side != nil {
		loops = append(loops[:len(loops):len(loops)], n.side)
	}
	n.loopsMu.Unlock()
	for _, l := range loops {
		var ls loopStats
		if l.el == nil {
			// The side loop (wills, Node.Publish): its users hold l.side while counting.
			l.side.Lock()
			ls = l.stats
			l.side.Unlock()
		} else {
			l.snapMu.Lock()
			ls = l.snap
			l.snapMu.Unlock()
		}
		st.PacketsReceived += ls.packetsIn
		st.BytesReceived += ls.bytesIn
		st.BytesSent += ls.bytesOut
		st.MessagesReceived += ls.publishIn
		st.MessagesSent += ls.publishOut
		st.MessagesDropped += ls.dropped
		st.MessagesExpired += ls.expired
		for q := 0; q < 3; q++ {
			st.QoSReceived[q] += ls.qosIn[q]
			st.QoSSent[q] += ls.qosOut[q]
		}
	}
	return st
}

// rateLimiter is a token bucket for new connections per second on one listener. It is only
// used from OnOpen, which gnet runs on many loops, so it takes a tiny CAS loop.
type rateLimiter struct {
	windowStart atomic.Int64 // unix nanoseconds of the current one-second window
	count       atomic.Int64
}

func (r *rateLimiter) allow(perSecond int, now int64) bool {
	start := r.windowStart.Load()
	if now-start >= int64(time.Second) {
		if r.windowStart.CompareAndSwap(start, now) {
			r.count.Store(0)
		}
	}
	return r.count.Add(1) <= int64(perSecond)
}

func hashString(s string) uint64 { return xxhash.Sum64String(s) }

var randState atomic.Uint64

// fastrand is a lock-free xorshift for the random shared-subscription strategy.
func fastrand() uint64 {
	for {
		old := randState.Load()
		x := old
		if x == 0 {
			x = uint64(time.Now().UnixNano()) | 1
		}
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if randState.CompareAndSwap(old, x) {
			return x
		}
	}
}

func portString(p int) string { return strconv.Itoa(p) }
