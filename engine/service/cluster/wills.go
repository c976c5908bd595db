package cluster

import (
	"sort"

	"github.com/emqgo/emqgo/sessions"
)

// Wills of clients on a node that stops or dies.
//
// Every node keeps a copy of the other nodes' wills: a connect announcement carries the
// connection's will, and the end of that connection on its node ("d") drops the copy (that
// node publishes or drops the will itself). Exactly one of the running nodes publishes the
// copies it holds for a node that is gone: the first of them by name, as each node sees the
// running nodes; the others drop them. A will is published at once, whatever its Will Delay
// Interval (the session it belonged to is gone with its node). When a node is gone:
//   - it said it is stopping ("bye", sent by Close before its connections close): at once;
//   - it is down (three heartbeats missed): it may be dead, or only cut off by a partition,
//     its clients still connected on the other side. So its wills wait: they are published
//     when cluster.autoclean forgets the node, or when it comes back restarted (a new run:
//     its clients' connections were lost), the wills of its earlier run only. A node that
//     comes back with the same run (a healed partition, or a pause) never lost its clients:
//     nothing is published, and its copies stay (their clients are still connected there).
//     With cluster.autoclean off, a down node's wills wait until it comes back restarted.
// A node that leaves the cluster (`cluster leave`, force-leave) keeps its clients: its wills
// are dropped, not published.
//
// A partition that outlasts cluster.autoclean: each side forgets the other's nodes and
// publishes the wills it holds for their clients, although those clients may still be
// connected on their side (the side cannot tell a dead node from a cut-off one). A will so
// published is not taken back. After the link heals, the sides stay apart (a forgotten
// node's heartbeats of the same run are ignored, members.go) until `cluster join` or a
// restart, so when such a client's connection later ends abnormally its own node publishes
// the will again, to its own side only: every subscriber gets the will once, early on the
// other side (TestWillsAfterAutocleanNetns). Only if the operator reunites the sides with
// `cluster join` while such a client is still connected does the end of its connection
// publish its will where it was already published: a second time there.

// willRec is another node's copy of a connection's will.
type willRec struct {
	at    int64 // the connection's ConnectedAt on its node
	msg   []byte
	delay uint32
}

// willSet records node's will of clientID's connection accepted at at.
func (s *Service) willSet(node, clientID string, at int64, msg []byte, delay uint32) {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	w := s.wills[node]
	if w == nil {
		w = make(map[string]willRec)
		s.wills[node] = w
	}
	w[clientID] = willRec{at: at, msg: msg, delay: delay}
}

// willGone drops node's copy of the will of clientID's connection accepted at at (or
// before: a later connection's will stays).
func (s *Service) willGone(node, clientID string, at int64) {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if w := s.wills[node]; w != nil {
		if r, ok := w[clientID]; ok && r.at <= at {
			delete(w, clientID)
		}
	}
}

// Wills returns how many wills of other nodes' clients this node holds copies of. Safe for
// concurrent use.
func (s *Service) Wills() int {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	n := 0
	for _, w := range s.wills {
		n += len(w)
	}
	return n
}

// nodeDownLocked takes the wills of node, which stopped or died, and publishes them (on a
// goroutine) when this node is the first running node by name. Hold s.mu.
func (s *Service) nodeDownLocked(node string) {
	s.nodeWillsLocked(node, 0)
}

// nodeWillsLocked is nodeDownLocked for the wills of connections node accepted before
// before (unix ns; 0: all of them): a restarted node's earlier run. Hold s.mu.
func (s *Service) nodeWillsLocked(node string, before int64) {
	s.dirMu.Lock()
	w := s.wills[node]
	if before == 0 {
		delete(s.wills, node)
	} else {
		old := make(map[string]willRec)
		for cid, r := range w {
			if r.at < before {
				old[cid] = r
				delete(w, cid)
			}
		}
		w = old
	}
	s.dirMu.Unlock()
	if len(w) == 0 || s.closed {
		return
	}
	running := []string{s.o.NodeName}
	for name, m := range s.members {
		if m.running && name != node {
			running = append(running, name)
		}
	}
	sort.Strings(running)
	if running[0] != s.o.NodeName {
		s.log.Info("cluster: the wills of a stopped node's clients are published by another node", "peer", node, "wills", len(w), "publisher", running[0])
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sent := 0
		for cid, r := range w {
			msg, err := sessions.DecodeMessage(r.msg)
			if err != nil {
				s.log.Warn("cluster: a will of a stopped node's client does not decode", "peer", node, "clientid", cid, "error", err)
				continue
			}
			s.n.PublishWill(msg)
			sent++
		}
		s.log.Info("cluster: published the wills of a stopped node's clients", "peer", node, "wills", sent)
	}()
}
