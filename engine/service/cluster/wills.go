package cluster

import (
	"sort"

	"github.com/emqgo/emqgo/sessions"
)

// Wills of clients on a node that stops or dies.
//
// Every node keeps a copy of the other nodes' wills: a connect announcement carries the
// connection's will, and the end of that connection on its node ("d") drops the copy (that
// node publishes or drops the will itself). When a node goes down (three heartbeats missed:
// killed, or cut off) or says it is stopping ("bye", sent by Close before its connections
// close), exactly one of the remaining running nodes publishes the copies it holds for that
// node: the first of them by name, as each node sees the running nodes. The others drop
// them. A will is published at once, whatever its Will Delay Interval (the session it
// belonged to is gone with its node). A node that leaves the cluster (`cluster leave`,
// force-leave) keeps its clients: its wills are dropped, not published.

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
	s.dirMu.Lock()
	w := s.wills[node]
	delete(s.wills, node)
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
