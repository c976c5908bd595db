package cluster

import (
	"sync/atomic"

	"github.com/emqgo/emqgo/engine"
)

// clusterMetrics counts what crosses between nodes, for `emqx_ctl metrics` (and the API,
// $SYS, /metrics): the cost of interest propagation (route announcements and whole-table
// fetches, in bytes as this node's backbone client sent or received them; NATS then copies
// a broadcast once per other node) and the forwarded messages the hop lost. All atomic.
type clusterMetrics struct {
	castOut, castIn atomic.Uint64 // route announcements (subjCast "routes")
	snapOut, snapIn atomic.Uint64 // route tables answered / fetched (".routes")
	// refetches counts the fetches of a node's whole route table other than the first one
	// after it joined or restarted: a gap in its announcements, a heartbeat newer than them,
	// a move's wait that timed out (routes.go). A steady cluster makes none.
	refetches atomic.Uint64
	// Forwarded messages (flow.go, routes.go): frames and the messages in them, sent to and
	// received from other nodes, and how often a sender waited for a full window.
	framesOut, msgsOut atomic.Uint64
	framesIn, msgsIn   atomic.Uint64
	windowWaits        atomic.Uint64
}

// addMetrics registers the service's counters with the node.
func (s *Service) addMetrics() {
	s.n.AddMetrics(func() []engine.Metric {
		return []engine.Metric{
			{Name: "cluster.routes.announced.bytes", Value: s.met.castOut.Load()},
			{Name: "cluster.routes.heard.bytes", Value: s.met.castIn.Load()},
			{Name: "cluster.routes.table_sent.bytes", Value: s.met.snapOut.Load()},
			{Name: "cluster.routes.table_fetched.bytes", Value: s.met.snapIn.Load()},
			{Name: "cluster.routes.refetch", Value: s.met.refetches.Load()},
			{Name: "cluster.messages.dropped", Value: s.dropped.Load()},
			{Name: "cluster.frames.sent", Value: s.met.framesOut.Load()},
			{Name: "cluster.messages.forwarded", Value: s.met.msgsOut.Load()},
			{Name: "cluster.frames.received", Value: s.met.framesIn.Load()},
			{Name: "cluster.messages.received", Value: s.met.msgsIn.Load()},
			{Name: "cluster.flow.waits", Value: s.met.windowWaits.Load()},
		}
	})
}
