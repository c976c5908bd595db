package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// Sessions across nodes.
//
// Every node keeps a directory of the client ids whose session lives on another node
// (sessionDir.owners): filled from the other nodes' connect announcements (subjClients),
// emptied by their "session gone" announcements (SessionTerminated there) and by a connect
// here. A CONNECT here for a client id the directory names goes through the engine's
// SessionLocator (Elsewhere, then Fetch on the side pool): this node asks the holder over
// subjSession with a request; the holder hands the session over (engine.Node.HandOver: its
// connection ends with 0x8E, the session leaves it) and answers with its transfer encoding,
// which the engine adopts here (Session Present 1). A clean start asks the holder to discard
// its session. A holder that is down, or that does not answer within the engine's bound,
// leaves the client with a new session (logged by the engine). Offline persistent sessions
// are found the same way: the holder's entry stays until the session ends there. A node
// seen for the first time (joined, or restarted with the sessions it loaded from disk) is
// asked for the client ids of its sessions, and it asks the others for theirs.

// subjSession + node token: requests to hand a session over (one subscription apart from
// subjNode's, so that a slow hand-over never delays route snapshots). subjSessionList + node
// token: requests for the client ids of the sessions a node holds, asked by a node that sees
// it for the first time (a node that joins, or restarts, learns the sessions that exist).
const (
	subjSession     = "emqgo.sess."
	subjSessionList = "emqgo.sesslist."
)

// maxHandOvers bounds the hand-overs a node serves at once.
const maxHandOvers = 64

// handOverReq is the request on subjSession.
type handOverReq struct {
	ClientID string `json:"c"`
	Clean    bool   `json:"k,omitempty"`
	// Relay asks the holder to keep relaying the session's messages until this node ends it
	// (move.go); the answer then has the header "relay".
	Relay bool `json:"r,omitempty"`
}

// locator is the engine.SessionLocator of a Service.
type locator struct{ s *Service }

// Elsewhere is called on the event loops: one map look-up under dirMu.
func (l locator) Elsewhere(clientID string) bool {
	s := l.s
	s.dirMu.Lock()
	_, ok := s.owners[clientID]
	s.dirMu.Unlock()
	return ok
}

// Fetch asks the node the directory names for clientID's session.
func (l locator) Fetch(ctx context.Context, clientID string, clean bool) ([]byte, error) {
	s := l.s
	s.dirMu.Lock()
	node, ok := s.owners[clientID]
	s.dirMu.Unlock()
	if !ok {
		return nil, nil
	}
	s.mu.Lock()
	m := s.members[node]
	running := m != nil && m.running
	s.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("cluster: node %s that held the session is not running", node)
	}
	nc := s.conn.Load()
	if nc == nil {
		return nil, errors.New("cluster: not connected")
	}
	req, _ := json.Marshal(handOverReq{ClientID: clientID, Clean: clean, Relay: !clean})
	msg, err := nc.RequestWithContext(ctx, subjSession+token(node), req)
	if err != nil {
		return nil, fmt.Errorf("cluster: session hand-over from node %s: %w", node, err)
	}
	if e := msg.Header.Get("error"); e != "" {
		return nil, fmt.Errorf("cluster: session hand-over from node %s: %s", node, e)
	}
	s.forgetOwner(clientID, node)
	if len(msg.Data) == 0 {
		return nil, nil
	}
	if msg.Header.Get("relay") == "" {
		return msg.Data, nil
	}
	// Adopted here now, offline; the relay's messages join it before the CONNACK (move.go).
	tr, err := sessions.DecodeTransfer(msg.Data)
	if err == nil && tr.ClientID != clientID {
		err = errors.New("the transfer names client " + tr.ClientID)
	}
	if err != nil {
		s.endRelayAnyway(node, clientID)
		return nil, fmt.Errorf("cluster: session from node %s: %w", node, err)
	}
	a, err := s.n.AdoptSession(tr)
	if err != nil {
		s.endRelayAnyway(node, clientID)
		return nil, fmt.Errorf("cluster: session from node %s: %w", node, err)
	}
	s.finishMove(ctx, node, clientID, a)
	return nil, nil
}

// onHandOver serves another node's request for a session held here (on its own goroutine,
// at most maxHandOvers at once; the others wait in the subscription's queue).
func (s *Service) onHandOver(msg *nats.Msg) {
	s.handOvers <- struct{}{}
	go func() {
		defer func() { <-s.handOvers }()
		var req handOverReq
		reply := nats.NewMsg(msg.Reply)
		if err := json.Unmarshal(msg.Data, &req); err != nil || req.ClientID == "" {
			reply.Header.Set("error", "bad hand-over request")
			msg.RespondMsg(reply)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
		defer cancel()
		var b []byte
		var err error
		if req.Relay && !req.Clean {
			var r *engine.Relay
			b, r, err = s.n.HandOverRelay(ctx, req.ClientID)
			if r != nil {
				s.startRelay(r)
				reply.Header.Set("relay", "1")
			}
		} else {
			b, err = s.n.HandOver(ctx, req.ClientID, req.Clean)
		}
		switch {
		case errors.Is(err, engine.ErrNoSession):
		case err != nil:
			reply.Header.Set("error", err.Error())
			s.log.Warn("cluster: cannot hand a session over to another node", "clientid", req.ClientID, "error", err)
		default:
			reply.Data = b
			s.log.Info("cluster: session handed over to another node", "clientid", req.ClientID, "moved", b != nil)
		}
		if err := msg.RespondMsg(reply); err != nil {
			s.log.Warn("cluster: cannot answer a session hand-over", "clientid", req.ClientID, "error", err)
		}
	}()
}

// syncSessions asks node for the client ids of its sessions and records those this node
// neither holds nor has an entry for (a connect announced since is newer). Runs on its own
// goroutine.
func (s *Service) syncSessions(node string) {
	defer s.wg.Done()
	nc := s.conn.Load()
	if nc == nil {
		return
	}
	msg, err := nc.Request(subjSessionList+token(node), nil, reqTimeout)
	if err != nil {
		s.log.Warn("cluster: cannot list the sessions of a node", "peer", node, "error", err)
		return
	}
	var ids []string
	if err := json.Unmarshal(msg.Data, &ids); err != nil {
		s.log.Warn("cluster: bad session list from a node", "peer", node, "error", err)
		return
	}
	var add []string
	for _, id := range ids {
		if _, err := s.n.Session(id); errors.Is(err, engine.ErrNoSession) { // not one held here too
			add = append(add, id)
		}
	}
	s.dirMu.Lock()
	for _, id := range add {
		if _, ok := s.owners[id]; !ok {
			s.owners[id] = node
		}
	}
	s.dirMu.Unlock()
}

// onSessionList answers with the client ids of this node's sessions (connected ones and
// offline persistent ones).
func (s *Service) onSessionList(msg *nats.Msg) {
	page := s.n.Sessions(engine.SessionQuery{})
	ids := make([]string, len(page.Sessions))
	for i, si := range page.Sessions {
		ids[i] = si.ClientID
	}
	b, _ := json.Marshal(ids)
	if err := msg.Respond(b); err != nil {
		s.log.Warn("cluster: cannot answer a session list request", "error", err)
	}
}

// setOwner records that node holds clientID's session.
func (s *Service) setOwner(clientID, node string) {
	s.dirMu.Lock()
	s.owners[clientID] = node
	s.dirMu.Unlock()
}

// forgetOwner forgets clientID's entry if node still holds it.
func (s *Service) forgetOwner(clientID, node string) {
	s.dirMu.Lock()
	if s.owners[clientID] == node {
		delete(s.owners, clientID)
	}
	s.dirMu.Unlock()
}

// forgetNodeSessions drops every directory entry and will of a node that left the cluster.
func (s *Service) forgetNodeSessions(node string) {
	s.dirMu.Lock()
	for c, n := range s.owners {
		if n == node {
			delete(s.owners, c)
		}
	}
	delete(s.wills, node)
	s.dirMu.Unlock()
}

// terminated is the SessionTerminated hook: the other nodes forget this node as the
// session's holder. It only queues (it may run on an event loop).
func (s *Service) terminated(clientID, _ string) {
	s.queueClient(connectMsg{Type: "g", ClientID: clientID})
}

// SessionOwners returns how many client ids the directory places on other nodes. Safe for
// concurrent use.
func (s *Service) SessionOwners() int {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	return len(s.owners)
}
