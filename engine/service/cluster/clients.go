package cluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
)

// Cluster-wide client ids.
//
// Every accepted CONNECT is announced to the other nodes (subjClients: client id and
// connect time); a node where the same client id is connected since before then ends that
// connection with DISCONNECT 0x8E and discards its session there (engine's
// TakenOverElsewhere), so a client id is online on one node at a time. The session's state
// does not move: the new node's session is the one that continues.

const subjClients = "emqgo.clients"

type connectMsg struct {
	ClientID string `json:"c"`
	At       int64  `json:"t"`
}

// connected is the ClientConnected hook: it only queues (it runs on an event loop).
func (s *Service) connected(ev *engine.ClientEvent) {
	select {
	case s.connectQ <- connectMsg{ClientID: ev.ClientID, At: ev.ConnectedAt}:
	default:
		s.dropped.Add(1)
	}
}

// sendConnects announces the queued connects.
func (s *Service) sendConnects() {
	defer s.wg.Done()
	for {
		var m connectMsg
		select {
		case <-s.stop:
			return
		case m = <-s.connectQ:
		}
		if nc := s.conn.Load(); nc != nil {
			b, _ := json.Marshal(m)
			if err := nc.Publish(subjClients, b); err != nil {
				s.log.Warn("cluster: cannot announce a connect", "clientid", m.ClientID, "error", err)
			}
		}
	}
}

// onConnect ends an older local connection of a client id that connected elsewhere.
func (s *Service) onConnect(msg *nats.Msg) {
	var m connectMsg
	if json.Unmarshal(msg.Data, &m) != nil || m.ClientID == "" {
		return
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
