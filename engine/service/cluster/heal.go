package cluster

import (
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/sessions"
)

// Healing a partition (cluster.autoheal = on).
//
// While the network is cut, each side sees the other's nodes down, stops forwarding to them
// and keeps serving its own clients; retained messages published (or deleted) on one side
// do not reach the other. When the heartbeats cross again, each node readmits the nodes it
// hears from and fetches their route tables, so forwarding resumes as before. For retained
// messages one side must win, as EMQX's autoheal (Mnesia) keeps the tables of the larger
// partition and restarts the smaller one: a node of the smaller side (on a tie, the side
// without the smallest node name) drops its own retained messages ($SYS topics aside) and
// takes a copy of the winning node's. What the losing side retained or deleted during the
// partition is therefore lost; the winning side's changes are everywhere afterwards.

// staleLocked says whether c, from a node this one saw down, is to be ignored for now: it
// lists this node as running, so its sender had not seen the cut yet when it sent it (a
// route that outlived the partition held it). The sender's next heartbeats, once it saw
// the cut, list only its own side, which healLosesLocked needs. A sender that keeps listing
// this node (the cut was one-way) is readmitted after three heartbeats all the same.
// Hold s.mu.
func (s *Service) staleLocked(m *member, c *castMsg, now time.Time) bool {
	if !slices.Contains(c.Peers, s.o.NodeName) {
		m.stale = time.Time{}
		return false
	}
	if m.stale.IsZero() {
		m.stale = now
	}
	if now.Sub(m.stale) < 3*s.o.Heartbeat {
		return true
	}
	m.stale = time.Time{}
	return false
}

// sendToRunning sends frame to each node this one sees running, on prefix + its token,
// rather than once to every node that listens: while a node is seen down nothing is queued
// for it on a route that outlives the partition (TCP connections survive a cut link, and
// what they hold would arrive after the heal, undoing the winner's choice).
func (s *Service) sendToRunning(nc *nats.Conn, prefix string, frame []byte, count int) {
	s.mu.Lock()
	var to []string
	for name, m := range s.members {
		if m.running {
			to = append(to, name)
		}
	}
	s.mu.Unlock()
	for _, name := range to {
		s.send(nc, prefix+token(name), frame, count)
	}
}

// healLocked settles the retained messages with c's sender, a node this one saw down and now
// readmits. The two sides are this node with the nodes it sees running, and the sender with
// the nodes its heartbeat lists; sides that share a node are not two partitions (the heal is
// already under way on one of them): nothing to do. Otherwise the smaller side loses: as the
// loser this node takes the sender's retained messages; as the winner it tells the sender to
// take its own, since the sender may have readmitted this node first (its heartbeats then
// list this node, and here the sides share a node). Hold s.mu.
func (s *Service) healLocked(c *castMsg) {
	mine := []string{s.o.NodeName}
	for name, m := range s.members {
		if m.running {
			mine = append(mine, name)
		}
	}
	theirs := append([]string{c.Node}, c.Peers...)
	for _, n := range theirs {
		if slices.Contains(mine, n) {
			return
		}
	}
	if len(mine) < len(theirs) || len(mine) == len(theirs) && slices.Min(theirs) < slices.Min(mine) {
		s.log.Warn("cluster: partition healed; this side is the smaller one: its retained messages are replaced by the other side's",
			"peer", c.Node, "this_side", len(mine), "other_side", len(theirs))
		go s.takeRetained(c.Node)
		return
	}
	s.log.Warn("cluster: partition healed; this side keeps its retained messages", "peer", c.Node, "this_side", len(mine), "other_side", len(theirs))
	if nc := s.conn.Load(); nc != nil {
		nc.Publish(subjNode+token(c.Node)+".heal", []byte(s.o.NodeName))
	}
}

// takeRetained replaces this node's retained messages ($SYS ones aside) by winner's: it
// deletes its own, then asks winner for a copy. Once per heal: the winning nodes each ask,
// and this node may have decided so itself; a second call within takeAgainAfter does
// nothing.
func (s *Service) takeRetained(winner string) {
	if validNodeName(winner) != nil {
		return
	}
	now := time.Now().UnixNano()
	last := s.lastTake.Load()
	if now-last < int64(takeAgainAfter(s.o.Heartbeat)) || !s.lastTake.CompareAndSwap(last, now) {
		return
	}
	var topics []string
	s.n.RangeRetained("#", func(m *sessions.Message) bool {
		topics = append(topics, string(m.Topic))
		return true
	})
	for _, t := range topics {
		s.n.DeleteRetained(t) // ErrNoRetained: gone meanwhile
	}
	if nc := s.conn.Load(); nc != nil {
		nc.Publish(subjNode+token(winner)+".retained", []byte(s.o.NodeName))
	}
	s.log.Info("cluster: retained messages dropped after the partition; taking the other side's", "dropped", len(topics), "from", winner)
}

// takeAgainAfter is how long after taking the retained messages of a winning side a node
// ignores the other winners' requests: longer than a heal takes (a few heartbeats).
func takeAgainAfter(heartbeat time.Duration) time.Duration { return 10 * heartbeat }
