package cluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// Cluster-wide client ids.
//
// Every accepted CONNECT is announced to the other nodes (subjClients: client id, connect
// time, this node, and the connection's will); a node where the same client id is connected
// since before then ends that connection with DISCONNECT 0x8E and discards its session there
// (engine's TakenOverElsewhere), so a client id is online on one node at a time. That is the
// fallback: a node that knows where the session is (sessions.go) fetches it before the
// CONNACK, and the old node then has nothing left to end. The same subject carries, in the
// order they happen on the sending node, the end of a connection that had a will ("d", the
// will is that node's business again: wills.go) and the end of a session ("g", sessions.go).

const subjClients = "emqgo.clients"

type connectMsg struct {
	Type     string `json:"y,omitempty"` // "": connected, "d": disconnected (had a will), "g": session gone
	ClientID string `json:"c"`
	At       int64  `json:"t,omitempty"`
	Node     string `json:"n,omitempty"`
	Will     []byte `json:"w,omitempty"`  // connected: the will (sessions.EncodeMessage)
	Delay    uint32 `json:"wd,omitempty"` // connected: its Will Delay Interval

	will *sessions.Message // queued: encoded by the sender
}

// queueClient queues an announcement (it runs on event loops: it never waits).
func (s *Service) queueClient(m connectMsg) {
	select {
	case s.connectQ <- m:
	default:
		s.dropped.Add(1)
	}
}

// connected is the ClientConnected hook: the session is here now.
func (s *Service) connected(ev *engine.ClientEvent) {
	s.dirMu.Lock()
	delete(s.owners, ev.ClientID)
	if ev.Will != nil {
		s.localWills[ev.ClientID] = ev.ConnectedAt
	}
	s.dirMu.Unlock()
	s.queueClient(connectMsg{ClientID: ev.ClientID, At: ev.ConnectedAt, will: ev.Will, Delay: ev.WillDelay})
}

// disconnected is the ClientDisconnected hook: a connection whose will was announced ended
// here (this node publishes or drops the will itself; a normal DISCONNECT has dropped it
// already).
func (s *Service) disconnected(ev *engine.ClientEvent, _ string) {
	s.dirMu.Lock()
	at, had := s.localWills[ev.ClientID]
	if had && at == ev.ConnectedAt {
		delete(s.localWills, ev.ClientID)
	}
	s.dirMu.Unlock()
	if had && at == ev.ConnectedAt {
		s.queueClient(connectMsg{Type: "d", ClientID: ev.ClientID, At: ev.ConnectedAt})
	}
}

// sendConnects announces the queued client events.
func (s *Service) sendConnects() {
	defer s.wg.Done()
	for {
		var m connectMsg
		select {
		case <-s.stop:
			return
		case m = <-s.connectQ:
		}
		m.Node = s.o.NodeName
		if m.will != nil {
			m.Will = sessions.EncodeMessage(nil, m.will)
			m.will = nil
		}
		if nc := s.conn.Load(); nc != nil {
			b, _ := json.Marshal(m)
			if err := nc.Publish(subjClients, b); err != nil {
				s.log.Warn("cluster: cannot announce a client event", "clientid", m.ClientID, "error", err)
			}
		}
	}
}

// onConnect handles another node's client events: the session directory, the replicated
// wills, and an older local connection of a client id that connected elsewhere.
func (s *Service) onConnect(msg *nats.Msg) {
	var m connectMsg
	if json.Unmarshal(msg.Data, &m) != nil || m.ClientID == "" || m.Node == s.o.NodeName {
		return
	}
	switch m.Type {
	case "g":
		if m.Node != "" {
			s.forgetOwner(m.ClientID, m.Node)
		}
		return
	case "d":
		s.willGone(m.Node, m.ClientID, m.At)
		return
	case "":
	default:
		return
	}
	if m.Node != "" {
		s.setOwner(m.ClientID, m.Node)
		if len(m.Will) > 0 {
			s.willSet(m.Node, m.ClientID, m.At, m.Will, m.Delay)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
	defer cancel()
	err := s.n.TakenOverElsewhere(ctx, m.ClientID, m.At)
	switch {
	case err == nil:
		s.log.Info("cluster: client taken over by a connection on another node", "clientid", m.ClientID)
	case errors.Is(err, engine.ErrNoClient), errors.Is(err, engine.ErrNotTakenOver):
	default:
		s.log.Warn("cluster: cannot end a client taken over elsewhere", "clientid", m.ClientID, "error", err)
	}
}
