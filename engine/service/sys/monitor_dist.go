package sys

import (
	"fmt"
	"time"
)

// AlarmBusyDistPort: with sysmon.busy_dist_port on, a route connection to a peer node kept
// more than DistBusyLimit bytes of pending output over a whole check interval, EMQX's
// busy_dist_port of a distribution port whose send buffer is full.
const AlarmBusyDistPort = "busy_dist_port"

// DefaultDistBusyLimit is the pending output of a route above which it counts as busy when
// Options.DistBusyLimit is 0: 1 MiB, as the Erlang VM's default distribution buffer busy limit.
const DefaultDistBusyLimit = 1 << 20

// DistPort is one connection to a peer node as the cluster reports it (Options.DistPorts).
type DistPort struct {
	Node    string    // peer node name
	ID      uint64    // connection id: a reconnection is a new port
	Addr    string    // peer address
	Pending int64     // bytes queued to the peer, not yet written
	Since   time.Time // when the connection was made
}

// distKey names one connection to a peer across checks.
type distKey struct {
	node string
	id   uint64
}

// checkDistPorts raises busy_dist_port while some route to a peer stayed above the limit at
// two checks in a row (so for the whole interval between them, as far as sampling sees),
// publishes .../sysmon/busy_dist_port once per episode of a connection, and clears the
// alarm when no route is busy.
func (s *Service) checkDistPorts() {
	if s.opts.DistPorts == nil {
		return
	}
	m := &s.mon
	limit := s.opts.DistBusyLimit
	ports := s.opts.DistPorts()
	above := make(map[distKey]bool, len(ports))
	busy := make(map[distKey]bool)
	var nodes []string
	for _, p := range ports {
		if p.Pending <= limit {
			continue
		}
		k := distKey{p.Node, p.ID}
		above[k] = true
		if !m.distAbove[k] {
			continue // above since this check only
		}
		busy[k] = true
		if len(nodes) < busyListed {
			nodes = append(nodes, p.Node)
		}
		if !m.distBusy[k] {
			s.publish(s.base+"sysmon/busy_dist_port", fmt.Appendf(nil, "busy_dist_port warning: node = %s, peer = %s, pending = %d bytes, limit = %d bytes, connected since %s",
				p.Node, p.Addr, p.Pending, limit, p.Since.UTC().Format(time.RFC3339)), 0, false)
		}
	}
	m.distAbove, m.distBusy = above, busy
	if len(busy) == 0 {
		s.Clear(AlarmBusyDistPort)
		return
	}
	s.Raise(AlarmBusyDistPort, fmt.Sprintf("%d connections to peer nodes keep more than %d bytes of pending output", len(busy), limit),
		map[string]any{"connections": len(busy), "nodes": nodes, "limit": limit})
}
