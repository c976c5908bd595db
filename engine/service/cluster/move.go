package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// Moving a session without losing messages (engine/peer_relay.go has the engine's part).
//
// The new node (B) asks the holder (A) for the session with Relay set. A hands it over
// (engine.Node.HandOverRelay) and keeps relaying: the session stays in A's index, so A keeps
// its interest in the session's filters and keeps what is routed to it. B adopts the session
// offline at once (engine.Node.AdoptSession: indexed here, so B's route announcement carries
// its filters), announces its routes without waiting for the loop's next turn, and asks every
// running node, A included, whether it has applied that announcement (subjMoveRoutes: the
// node answers once its copy of B's route table is at least that recent). From then on every
// message for the session reaches B directly. B then asks A to end the relay (subjMoveEnd):
// A waits moveGrace, so that what the other nodes forwarded to A before they had B's routes
// arrives, removes the session from its index and answers with what it kept; B puts those
// messages ahead of the ones that came directly (engine.Adopted.Merge). Only then does the
// client get its CONNACK. A QoS 1/2 message routed to both nodes while both had the routes
// reaches the session twice: one copy in what A handed over (the transfer or the relay),
// one directly, before or after the merge. B leaves out the direct copy: same tag between
// nodes (tag.go, carried in the forwarded PUBLISH, the transfer and the relay), publisher,
// topic and payload (engine/peer_copies.go). A relay that B never ends (B died, or timed
// out) ends by itself after relayMaxAge and its messages are dropped (logged).

const (
	subjMoveRoutes = "emqgo.moveroutes." // + node token: "have you applied my routes through seq?"
	subjMoveEnd    = "emqgo.moveend."    // + node token: "end the relay of this client id"
	// moveGrace is how long the old node keeps relaying once every node has the new node's
	// routes: what was forwarded to it just before is still on its way.
	moveGrace = 250 * time.Millisecond
	// relayMaxAge ends a relay that the new node never ended.
	relayMaxAge = 10 * time.Second
	// routesWait bounds how long a node waits to apply another node's announcement.
	routesWait = 2 * time.Second
)

// moveRoutesReq asks whether the receiver applied Node's route announcements through Seq.
type moveRoutesReq struct {
	Node string `json:"n"`
	Boot int64  `json:"b"`
	Seq  uint64 `json:"s"`
}

// relayTable holds this node's relays of sessions handed over, by client id. Guarded by mu.
type relayTable struct {
	mu sync.Mutex
	m  map[string]*engine.Relay
}

// startRelay records r and ends it by itself after relayMaxAge unless the new node does.
func (s *Service) startRelay(r *engine.Relay) {
	s.relaysOut.mu.Lock()
	if s.relaysOut.m == nil {
		s.relaysOut.m = make(map[string]*engine.Relay)
	}
	if old := s.relaysOut.m[r.ClientID()]; old != nil {
		go s.dropRelay(old, "replaced by a newer hand-over")
	}
	s.relaysOut.m[r.ClientID()] = r
	s.relaysOut.mu.Unlock()
	time.AfterFunc(relayMaxAge, func() { s.dropRelay(r, "the new node did not end it within "+relayMaxAge.String()) })
}

// takeRelay removes and returns clientID's relay, or r when given and still there.
func (s *Service) takeRelay(clientID string, r *engine.Relay) *engine.Relay {
	s.relaysOut.mu.Lock()
	defer s.relaysOut.mu.Unlock()
	cur := s.relaysOut.m[clientID]
	if cur == nil || (r != nil && cur != r) {
		return nil
	}
	delete(s.relaysOut.m, clientID)
	return cur
}

// dropRelay ends r, if still open, and drops what it kept.
func (s *Service) dropRelay(r *engine.Relay, why string) {
	if s.takeRelay(r.ClientID(), r) == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
	defer cancel()
	kept, dropped := r.End(ctx)
	for _, q := range kept {
		q.Msg.Release()
	}
	s.dropped.Add(uint64(len(kept) + dropped))
	s.log.Warn("cluster: relay of a moved session ended without the new node: its messages are lost", "clientid", r.ClientID(), "why", why, "messages", len(kept)+dropped)
}

// onMoveEnd serves the new node's request to end a relay: after moveGrace, the relay's
// messages are the answer (appendRelayed).
func (s *Service) onMoveEnd(msg *nats.Msg) {
	clientID := string(msg.Data)
	go func() {
		reply := nats.NewMsg(msg.Reply)
		r := s.takeRelay(clientID, nil)
		if r == nil {
			reply.Header.Set("error", "no relay of client "+clientID)
			msg.RespondMsg(reply)
			return
		}
		select {
		case <-time.After(moveGrace):
		case <-s.stop:
		}
		ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
		defer cancel()
		kept, dropped := r.End(ctx)
		reply.Data = appendRelayed(nil, kept)
		for _, q := range kept {
			q.Msg.Release()
		}
		if dropped > 0 {
			s.dropped.Add(uint64(dropped))
			s.log.Warn("cluster: a relay of a moved session overflowed", "clientid", clientID, "dropped", dropped)
		}
		if err := msg.RespondMsg(reply); err != nil {
			s.log.Warn("cluster: cannot answer the end of a relay: its messages are lost", "clientid", clientID, "messages", len(kept), "error", err)
			return
		}
		s.log.Info("cluster: relay of a moved session ended", "clientid", clientID, "messages", len(kept), "after", r.Age().Round(time.Millisecond))
	}()
}

// onMoveRoutes answers once this node applied the asking node's announcements through the
// sequence number asked (or after routesWait, with an error header).
func (s *Service) onMoveRoutes(msg *nats.Msg) {
	var req moveRoutesReq
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		return
	}
	go func() {
		reply := nats.NewMsg(msg.Reply)
		deadline := time.Now().Add(routesWait)
		synced := false
		for {
			s.mu.Lock()
			m := s.members[req.Node]
			ok := m != nil && m.running && m.boot == req.Boot && m.synced && m.seq >= req.Seq
			s.mu.Unlock()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				reply.Header.Set("error", fmt.Sprintf("routes of node %s through %d not applied within %v", req.Node, req.Seq, routesWait))
				break
			}
			if !synced && m != nil && m.running && time.Now().After(deadline.Add(-routesWait/2)) {
				synced = true
				s.syncRoutes(req.Node) // an announcement lost on the way: take the table
				continue
			}
			time.Sleep(5 * time.Millisecond)
		}
		msg.RespondMsg(reply)
	}()
}

// finishMove completes the adoption of clientID's session from node: the other nodes get
// this node's routes, node ends its relay and its messages join the session. Problems are
// logged: the session is here whatever happens.
func (s *Service) finishMove(ctx context.Context, node, clientID string, a *engine.Adopted) {
	nc := s.conn.Load()
	if nc == nil {
		return
	}
	s.announce()
	s.pendMu.Lock()
	seq := s.seq
	s.pendMu.Unlock()
	req, _ := json.Marshal(moveRoutesReq{Node: s.o.NodeName, Boot: s.boot.Load(), Seq: seq})
	s.mu.Lock()
	var nodes []string
	for name, m := range s.members {
		if m.running || name == node {
			nodes = append(nodes, name)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, routesWait+500*time.Millisecond)
			defer cancel()
			m, err := nc.RequestWithContext(rctx, subjMoveRoutes+token(name), req)
			if err == nil && m.Header.Get("error") != "" {
				err = errors.New(m.Header.Get("error"))
			}
			if err != nil {
				s.log.Warn("cluster: a node may not route a moved session here yet: messages may be lost", "peer", name, "clientid", clientID, "error", err)
			}
		}()
	}
	wg.Wait()
	m, err := nc.RequestWithContext(ctx, subjMoveEnd+token(node), []byte(clientID))
	if err == nil && m.Header.Get("error") != "" {
		err = errors.New(m.Header.Get("error"))
	}
	if err != nil {
		s.log.Warn("cluster: the relay of a moved session did not answer: its messages are lost", "peer", node, "clientid", clientID, "error", err)
		return
	}
	entries, err := decodeRelayed(m.Data)
	if err != nil {
		s.log.Warn("cluster: bad relay of a moved session", "peer", node, "clientid", clientID, "error", err)
		return
	}
	dropped, dups := a.Merge(entries)
	if dropped > 0 {
		s.log.Warn("cluster: the queue of a moved session overflowed", "clientid", clientID, "dropped", dropped)
	}
	s.log.Info("cluster: session moved here", "peer", node, "clientid", clientID, "relayed", len(entries), "duplicates_dropped", dups)
}

// appendRelayed encodes relayed deliveries: per delivery a byte QoS, a byte retain, a
// uvarint count of subscription ids and each, the message's tag (tag.go) as a uvarint, then
// the message (sessions.EncodeMessage) as uvarint length and bytes.
func appendRelayed(b []byte, qs []sessions.Queued) []byte {
	var tmp []byte
	for _, q := range qs {
		r := byte(0)
		if q.Retain {
			r = 1
		}
		b = append(b, q.QoS, r)
		b = binary.AppendUvarint(b, uint64(len(q.SubIDs)))
		for _, id := range q.SubIDs {
			b = binary.AppendUvarint(b, uint64(id))
		}
		b = binary.AppendUvarint(b, uint64(tagOf(q.Msg)))
		tmp = sessions.EncodeMessage(tmp[:0], q.Msg)
		b = binary.AppendUvarint(b, uint64(len(tmp)))
		b = append(b, tmp...)
	}
	return b
}

var errRelayed = errors.New("cluster: malformed relayed deliveries")

// decodeRelayed decodes appendRelayed's encoding; the messages own their bytes.
func decodeRelayed(b []byte) ([]sessions.Queued, error) {
	var out []sessions.Queued
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	for len(b) > 0 {
		if len(b) < 2 || b[0] > 2 || b[1] > 1 {
			return nil, errRelayed
		}
		q := sessions.Queued{QoS: b[0], Retain: b[1] == 1}
		b = b[2:]
		n, ok := uv()
		if !ok || n > uint64(len(b)) {
			return nil, errRelayed
		}
		for range n {
			id, ok := uv()
			if !ok || id > 1<<28 {
				return nil, errRelayed
			}
			q.SubIDs = append(q.SubIDs, uint32(id))
		}
		tag, ok := uv()
		if !ok || tag > 0xFFFF {
			return nil, errRelayed
		}
		size, ok := uv()
		if !ok || size > uint64(len(b)) {
			return nil, errRelayed
		}
		m, err := sessions.DecodeMessage(b[:size])
		if err != nil {
			return nil, fmt.Errorf("cluster: relayed message: %w", err)
		}
		b = b[size:]
		m.PeerTag = uint16(tag)
		q.Msg = m
		out = append(out, q)
	}
	return out, nil
}

// endRelayAnyway asks node to end clientID's relay when this node cannot adopt the session.
func (s *Service) endRelayAnyway(node, clientID string) {
	if nc := s.conn.Load(); nc != nil {
		go nc.Request(subjMoveEnd+token(node), []byte(clientID), reqTimeout)
	}
}
