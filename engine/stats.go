package engine

import (
	"reflect"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/emqgo/emqgo/engine/logging"
)

// loopStats are counters owned by one loop (plain increments, no atomics on the hot path).
// Readers on other goroutines may see slightly stale values; Node.Stats sums them.
type loopStats struct {
	PacketsIn, BytesIn, BytesOut       uint64
	Connect, Connack, ConnRefused      uint64
	PublishIn, PublishOut              uint64
	QosIn, QosOut                      [4]uint64
	AcksIn, AcksOut, AcksMissed        [4]uint64 // PUBACK, PUBREC, PUBREL, PUBCOMP
	Subscribe, Suback, SubRefused      uint64
	Unsubscribe, Unsuback              uint64
	Pingreq                            uint64
	DisconnectIn, DisconnectSent       uint64
	Routed, NoSubscribers              uint64
	Dropped, QueueDropped, SlowDropped uint64
	Expired, TooLarge                  uint64
	AclDenied, ProtocolErrors          uint64
	IdleTimeouts, KeepaliveTimeouts    uint64
	Retries, AwaitRelExpired           uint64 // AwaitRelExpired: messages.qos2.expired
	Qos2Dropped                        uint64 // messages.qos2.dropped: awaiting_rel full, queue drops
	WillsSent, RetainedSent            uint64
	SlowClosed                         uint64
	AuthFailures, AuthOverload         uint64
	AuthIn                             uint64
	ACLParked                          uint64             // packets that waited for the access-control chain
	StoreRefused                       uint64             // QoS 1/2 publishes refused: store failed
	Throttled                          [limitKinds]uint64 // connections stopped by each rate limit (ratelimit.go)
	ThrottledClosed                    uint64             // throttled connections closed: parked input past its bound
	Lingered                           uint64             // closes that lingered (linger.go)
	ForceShutdown                      uint64             // connections closed by force_shutdown_policy's count (forceshutdown.go)
	LingerExpired, LingerBytesClosed   uint64             // lingering sockets closed by the time bound, by the byte bound

	// Latency histograms (histograms.go) and the count of deliveries for their 1-in-64 sampling.
	ConnackTime, AuthTime, DeliveryTime hist
	DeliverySample                      uint64
	LoopLag                             lagHist // looplag.go

	_ [64]byte
}

// nodeStats are node-wide counters updated off the hot path.
type nodeStats struct {
	connections     atomic.Int64
	maxConnections  atomic.Int64
	refusedMaxConn  atomic.Uint64
	refusedAccess   atomic.Uint64
	refusedProxy    atomic.Uint64 // no valid PROXY protocol header (proxy.go)
	refusedStopped  atomic.Uint64 // listener stopped by emqx_ctl (listeners.go)
	throttled       atomic.Uint64
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
	SubscriptionsMax, SharedMax        int64 // high-water marks
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
	st.SubscriptionsMax, st.SharedMax = ts.SubscriptionsMax, ts.SharedMax
	st.Topics, st.TopicsMax = ts.Filters, ts.FiltersMax
	st.Retained = int64(n.retained.Len())
	st.MessagesDropped = n.stats.dropped.Load()
	ls := n.sumLoops()
	st.PacketsReceived = ls.PacketsIn
	st.BytesReceived = ls.BytesIn
	st.BytesSent = ls.BytesOut
	st.MessagesReceived = ls.PublishIn
	st.MessagesSent = ls.PublishOut
	st.MessagesDropped += ls.Dropped
	st.MessagesExpired = ls.Expired
	for q := 0; q < 3; q++ {
		st.QoSReceived[q] = ls.QosIn[q]
		st.QoSSent[q] = ls.QosOut[q]
	}
	return st
}

// add adds every counter of o to s. It uses reflection: it runs for the API and $SYS, never on
// the hot path, and cannot forget a counter added later.
func (s *loopStats) add(o *loopStats) {
	sv, ov := reflect.ValueOf(s).Elem(), reflect.ValueOf(o).Elem()
	for i := range sv.NumField() {
		f := sv.Field(i)
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(f.Uint() + ov.Field(i).Uint())
		case reflect.Struct:
			switch h := f.Addr().Interface().(type) {
			case *hist:
				h.add(ov.Field(i).Addr().Interface().(*hist))
			case *lagHist:
				h.add(ov.Field(i).Addr().Interface().(*lagHist))
			}
		case reflect.Array:
			if f.Type().Elem().Kind() == reflect.Uint64 {
				for j := range f.Len() {
					f.Index(j).SetUint(f.Index(j).Uint() + ov.Field(i).Index(j).Uint())
				}
			}
		}
	}
}

// sumLoops adds up the counters of every loop (their sweep-time copies) and the side loop.
func (n *Node) sumLoops() loopStats {
	loops := *n.loops.Load()
	n.loopsMu.Lock()
	if n.side != nil {
		loops = append(loops[:len(loops):len(loops)], n.side)
	}
	n.loopsMu.Unlock()
	var sum loopStats
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
		sum.add(&ls)
	}
	return sum
}

// Metric is one named counter, with EMQX's metric names (emqx_ctl metrics, $SYS
// .../metrics/..., Prometheus).
type Metric struct {
	Name  string
	Value uint64
	// Gauge marks a value that goes down as well as up (memory.gc_percent, scheduler.procs);
	// the rest are counters. /metrics types them so.
	Gauge bool
}

// Metrics returns the node's counters under EMQX's names, in a stable order. Safe from any
// goroutine; loop counters may lag by one sweep interval.
func (n *Node) Metrics() []Metric {
	ls := n.sumLoops()
	dropped := ls.Dropped + n.stats.dropped.Load()
	pingresp := ls.Pingreq
	packetsSent := ls.Connack + ls.PublishOut + ls.AcksOut[0] + ls.AcksOut[1] + ls.AcksOut[2] + ls.AcksOut[3] +
		ls.Suback + ls.Unsuback + pingresp + ls.DisconnectSent
	writesRefused, commitsFailed := n.dur.counters()
	return n.ext.appendTo([]Metric{
		{Name: "bytes.received", Value: ls.BytesIn},
		{Name: "bytes.sent", Value: ls.BytesOut},
		{Name: "packets.received", Value: ls.PacketsIn},
		{Name: "packets.sent", Value: packetsSent},
		{Name: "packets.connect", Value: ls.Connect},
		{Name: "packets.connack", Value: ls.Connack},
		{Name: "packets.publish.received", Value: ls.PublishIn},
		{Name: "packets.publish.sent", Value: ls.PublishOut},
		{Name: "packets.puback.received", Value: ls.AcksIn[0]},
		{Name: "packets.puback.sent", Value: ls.AcksOut[0]},
		{Name: "packets.puback.missed", Value: ls.AcksMissed[0]},
		{Name: "packets.pubrec.received", Value: ls.AcksIn[1]},
		{Name: "packets.pubrec.sent", Value: ls.AcksOut[1]},
		{Name: "packets.pubrec.missed", Value: ls.AcksMissed[1]},
		{Name: "packets.pubrel.received", Value: ls.AcksIn[2]},
		{Name: "packets.pubrel.sent", Value: ls.AcksOut[2]},
		{Name: "packets.pubrel.missed", Value: ls.AcksMissed[2]},
		{Name: "packets.pubcomp.received", Value: ls.AcksIn[3]},
		{Name: "packets.pubcomp.sent", Value: ls.AcksOut[3]},
		{Name: "packets.pubcomp.missed", Value: ls.AcksMissed[3]},
		{Name: "packets.subscribe", Value: ls.Subscribe},
		{Name: "packets.suback", Value: ls.Suback},
		{Name: "packets.unsubscribe", Value: ls.Unsubscribe},
		{Name: "packets.unsuback", Value: ls.Unsuback},
		{Name: "packets.pingreq", Value: ls.Pingreq},
		{Name: "packets.pingresp", Value: pingresp},
		{Name: "packets.disconnect.received", Value: ls.DisconnectIn},
		{Name: "packets.disconnect.sent", Value: ls.DisconnectSent},
		{Name: "packets.auth", Value: ls.AuthIn},
		{Name: "messages.received", Value: ls.PublishIn},
		{Name: "messages.sent", Value: ls.PublishOut},
		{Name: "messages.expired", Value: ls.Expired},
		{Name: "messages.retained", Value: n.stats.retained.Load()},
		{Name: "messages.dropped", Value: dropped},
		{Name: "messages.dropped.queue_full", Value: ls.QueueDropped},
		{Name: "messages.dropped.slow_consumer", Value: ls.SlowDropped},
		{Name: "messages.dropped.too_large", Value: ls.TooLarge},
		{Name: "messages.forward", Value: 0},
		{Name: "messages.qos0.received", Value: ls.QosIn[0]},
		{Name: "messages.qos0.sent", Value: ls.QosOut[0]},
		{Name: "messages.qos1.received", Value: ls.QosIn[1]},
		{Name: "messages.qos1.sent", Value: ls.QosOut[1]},
		{Name: "messages.qos2.received", Value: ls.QosIn[2]},
		{Name: "messages.qos2.sent", Value: ls.QosOut[2]},
		{Name: "messages.qos2.expired", Value: ls.AwaitRelExpired},
		{Name: "messages.qos2.dropped", Value: ls.Qos2Dropped},
		{Name: "messages.refused.store_unavailable", Value: ls.StoreRefused},
		{Name: "store.writes_refused", Value: writesRefused},
		{Name: "store.commits_failed", Value: commitsFailed},
		{Name: "client.auth.failure", Value: ls.AuthFailures},
		{Name: "client.acl.deny", Value: ls.AclDenied},
		{Name: "protocol.errors", Value: ls.ProtocolErrors},
		{Name: "connections.keepalive_timeout", Value: ls.KeepaliveTimeouts},
		{Name: "connections.idle_timeout", Value: ls.IdleTimeouts},
		{Name: "connections.slow_closed", Value: ls.SlowClosed},
		{Name: "connections.refused.max_connections", Value: n.stats.refusedMaxConn.Load()},
		{Name: "connections.refused.access", Value: n.stats.refusedAccess.Load()},
		{Name: "connections.refused.proxy_protocol", Value: n.stats.refusedProxy.Load()},
		{Name: "connections.refused.listener_stopped", Value: n.stats.refusedStopped.Load()},
		{Name: "log.dropped", Value: logging.TotalDropped()},
		{Name: "connections.delayed.max_conn_rate", Value: n.stats.throttled.Load()},
		{Name: "connections.throttled." + limitNames[limitPublish], Value: ls.Throttled[limitPublish]},
		{Name: "connections.throttled." + limitNames[limitMessagesIn], Value: ls.Throttled[limitMessagesIn]},
		{Name: "connections.throttled." + limitNames[limitBytesIn], Value: ls.Throttled[limitBytesIn]},
		{Name: "connections.throttled." + limitNames[limitListenerBytes], Value: ls.Throttled[limitListenerBytes]},
		{Name: "connections.throttled.closed", Value: ls.ThrottledClosed},
		{Name: "connections.refused.tls_handshake", Value: n.tls.refused.Load()},
		{Name: "connections.lingered", Value: ls.Lingered},
		{Name: "connections.force_shutdown", Value: ls.ForceShutdown},
		{Name: "connections.linger_expired", Value: ls.LingerExpired},
		{Name: "connections.linger_bytes_closed", Value: ls.LingerBytesClosed},
	})
}

func hashString(s string) uint64 { return xxhash.Sum64String(s) }

func hashBytes(b []byte) uint64 { return xxhash.Sum64(b) }

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
