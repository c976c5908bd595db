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
		{"bytes.received", ls.BytesIn},
		{"bytes.sent", ls.BytesOut},
		{"packets.received", ls.PacketsIn},
		{"packets.sent", packetsSent},
		{"packets.connect", ls.Connect},
		{"packets.connack", ls.Connack},
		{"packets.publish.received", ls.PublishIn},
		{"packets.publish.sent", ls.PublishOut},
		{"packets.puback.received", ls.AcksIn[0]},
		{"packets.puback.sent", ls.AcksOut[0]},
		{"packets.puback.missed", ls.AcksMissed[0]},
		{"packets.pubrec.received", ls.AcksIn[1]},
		{"packets.pubrec.sent", ls.AcksOut[1]},
		{"packets.pubrec.missed", ls.AcksMissed[1]},
		{"packets.pubrel.received", ls.AcksIn[2]},
		{"packets.pubrel.sent", ls.AcksOut[2]},
		{"packets.pubrel.missed", ls.AcksMissed[2]},
		{"packets.pubcomp.received", ls.AcksIn[3]},
		{"packets.pubcomp.sent", ls.AcksOut[3]},
		{"packets.pubcomp.missed", ls.AcksMissed[3]},
		{"packets.subscribe", ls.Subscribe},
		{"packets.suback", ls.Suback},
		{"packets.unsubscribe", ls.Unsubscribe},
		{"packets.unsuback", ls.Unsuback},
		{"packets.pingreq", ls.Pingreq},
		{"packets.pingresp", pingresp},
		{"packets.disconnect.received", ls.DisconnectIn},
		{"packets.disconnect.sent", ls.DisconnectSent},
		{"packets.auth", ls.AuthIn},
		{"messages.received", ls.PublishIn},
		{"messages.sent", ls.PublishOut},
		{"messages.expired", ls.Expired},
		{"messages.retained", n.stats.retained.Load()},
		{"messages.dropped", dropped},
		{"messages.dropped.queue_full", ls.QueueDropped},
		{"messages.dropped.slow_consumer", ls.SlowDropped},
		{"messages.dropped.too_large", ls.TooLarge},
		{"messages.forward", 0},
		{"messages.qos0.received", ls.QosIn[0]},
		{"messages.qos0.sent", ls.QosOut[0]},
		{"messages.qos1.received", ls.QosIn[1]},
		{"messages.qos1.sent", ls.QosOut[1]},
		{"messages.qos2.received", ls.QosIn[2]},
		{"messages.qos2.sent", ls.QosOut[2]},
		{"messages.qos2.expired", ls.AwaitRelExpired},
		{"messages.qos2.dropped", ls.Qos2Dropped},
		{"messages.refused.store_unavailable", ls.StoreRefused},
		{"store.writes_refused", writesRefused},
		{"store.commits_failed", commitsFailed},
		{"client.auth.failure", ls.AuthFailures},
		{"client.acl.deny", ls.AclDenied},
		{"protocol.errors", ls.ProtocolErrors},
		{"connections.keepalive_timeout", ls.KeepaliveTimeouts},
		{"connections.idle_timeout", ls.IdleTimeouts},
		{"connections.slow_closed", ls.SlowClosed},
		{"connections.refused.max_connections", n.stats.refusedMaxConn.Load()},
		{"connections.refused.access", n.stats.refusedAccess.Load()},
		{"connections.refused.proxy_protocol", n.stats.refusedProxy.Load()},
		{"connections.refused.listener_stopped", n.stats.refusedStopped.Load()},
		{"log.dropped", logging.TotalDropped()},
		{"connections.delayed.max_conn_rate", n.stats.throttled.Load()},
		{"connections.throttled." + limitNames[limitPublish], ls.Throttled[limitPublish]},
		{"connections.throttled." + limitNames[limitMessagesIn], ls.Throttled[limitMessagesIn]},
		{"connections.throttled." + limitNames[limitBytesIn], ls.Throttled[limitBytesIn]},
		{"connections.throttled." + limitNames[limitListenerBytes], ls.Throttled[limitListenerBytes]},
		{"connections.throttled.closed", ls.ThrottledClosed},
		{"connections.refused.tls_handshake", n.tls.refused.Load()},
		{"connections.lingered", ls.Lingered},
		{"connections.force_shutdown", ls.ForceShutdown},
		{"connections.linger_expired", ls.LingerExpired},
		{"connections.linger_bytes_closed", ls.LingerBytesClosed},
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
