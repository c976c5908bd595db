package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// Cluster-wide routes.
//
// A node announces the topic filters its own subscribers want (engine.Node.WatchRoutes:
// first subscription, last unsubscription) as numbered changes on subjCast, at most one
// announcement per change burst (the loop takes what accumulated). Another node applies them
// in order to the internal subscribers it holds for that node: one for the ordinary filters,
// one per shared filter (so a delivery says which group picked the node). A gap in the
// numbers (a lost announcement, a heartbeat with a newer number, a restart) makes the
// receiver fetch the whole table (subjNode+token+".routes") and diff it against what it
// holds. A node therefore forwards a message only to the nodes that have a matching
// subscriber, and only once per node: the subscriber handle merges overlapping filters.

// routeSnapshot answers a ".routes" request.
type routeSnapshot struct {
	Boot    int64    `json:"b"`
	Seq     uint64   `json:"s"`
	Filters []string `json:"f"`
}

// routeChanged is the route watch: called from any goroutine (often an event loop) with the
// engine's watch lock held; it only queues.
func (s *Service) routeChanged(filter string, added bool) {
	s.chgMu.Lock()
	s.incoming = append(s.incoming, routeChange{filter, added})
	s.chgMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// announce publishes the queued route changes as one numbered announcement.
func (s *Service) announce() {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	s.chgMu.Lock()
	s.pending, s.incoming = s.incoming, s.pending[:0]
	s.chgMu.Unlock()
	if len(s.pending) == 0 {
		return
	}
	before := make(map[string]bool, len(s.pending))
	for _, c := range s.pending {
		if _, ok := before[c.filter]; !ok {
			before[c.filter] = s.announced[c.filter]
		}
		if c.added {
			s.announced[c.filter] = true
		} else {
			delete(s.announced, c.filter)
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	var add, del []string
	for f, was := range before {
		switch now := s.announced[f]; {
		case now && !was:
			add = append(add, f)
		case !now && was:
			del = append(del, f)
		}
	}
	if len(add)+len(del) == 0 {
		return
	}
	s.seq++
	// Published with pendMu held, so that a snapshot (which takes it too) is never older
	// than an announcement already sent.
	s.cast(&castMsg{Type: "routes", Seq: s.seq, Add: add, Del: del})
}

func (s *Service) snapshot() routeSnapshot {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	snap := routeSnapshot{Boot: s.boot.Load(), Seq: s.seq, Filters: make([]string, 0, len(s.announced))}
	for f := range s.announced {
		snap.Filters = append(snap.Filters, f)
	}
	return snap
}

// onRoutes applies another node's announcement, or resynchronises on a gap.
func (s *Service) onRoutes(c *castMsg) {
	s.mu.Lock()
	m := s.members[c.Node]
	if m == nil || !m.running || !m.synced || m.boot != c.Boot || c.Seq <= m.seq {
		s.mu.Unlock()
		return // a heartbeat will bring it in, or it is old news
	}
	if c.Seq != m.seq+1 {
		s.mu.Unlock()
		s.syncRoutes(c.Node)
		return
	}
	for _, f := range c.Add {
		s.addFilterLocked(m, f)
	}
	for _, f := range c.Del {
		s.delFilterLocked(m, f)
	}
	m.seq = c.Seq
	s.mu.Unlock()
}

// syncRoutes fetches a node's whole route table and makes the forwarders match it; a
// fetch from a node already in sync counts as a re-fetch (cluster.routes.refetch).
func (s *Service) syncRoutes(name string) {
	nc := s.conn.Load()
	if nc == nil {
		return
	}
	s.mu.Lock()
	if m := s.members[name]; m != nil && m.synced {
		s.met.refetches.Add(1)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subjNode+token(name)+".routes", nil)
	if err != nil {
		s.log.Warn("cluster: cannot fetch the routes of a node", "peer", name, "error", err)
		return
	}
	s.met.snapIn.Add(uint64(len(msg.Data)))
	var snap routeSnapshot
	if err := json.Unmarshal(msg.Data, &snap); err != nil {
		s.log.Warn("cluster: bad route table from a node", "peer", name, "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[name]
	if m == nil || !m.running || m.boot != snap.Boot || (m.synced && snap.Seq <= m.seq) {
		return
	}
	want := make(map[string]bool, len(snap.Filters))
	for _, f := range snap.Filters {
		want[f] = true
		s.addFilterLocked(m, f)
	}
	for f := range m.filters {
		if !want[f] {
			s.delFilterLocked(m, f)
		}
	}
	m.seq, m.synced = snap.Seq, true
}

func isShared(f string) bool {
	return strings.HasPrefix(f, "$share/") || strings.HasPrefix(f, "$queue/")
}

// peerSub is how a node's forwarders subscribe: every message at its own QoS, with its RETAIN
// flag as published (the receiving node applies its subscribers' options).
var peerSub = engine.SubscribeOptions{QoS: 2, RetainAsPublished: true}

// addFilterLocked subscribes m's forwarders to filter. Hold s.mu.
func (s *Service) addFilterLocked(m *member, f string) {
	if m.filters[f] {
		return
	}
	var err error
	if isShared(f) {
		var g *engine.Subscriber
		g, err = s.n.NewSubscriber(engine.SubscriberOptions{Name: "cluster:" + m.name + ":" + f, Peer: true, KeepQoS1: true, Handle: s.forwarder(m.name, f)})
		if err == nil {
			if err = g.Subscribe(f, peerSub); err != nil {
				g.Close()
			} else {
				if m.groups == nil {
					m.groups = make(map[string]*engine.Subscriber)
				}
				m.groups[f] = g
			}
		}
	} else {
		if m.fwd == nil {
			// Encoded on the event loops (frameout.go); the queue only serves Handle.
			out := s.newFrameOut(m.name, "")
			m.fwd, err = s.n.NewSubscriber(engine.SubscriberOptions{Name: "cluster:" + m.name, Peer: true, KeepQoS1: true, QueueLen: 100000, Batch: 256, Handle: out.add, OnLoop: out.add})
			if err != nil {
				out.close()
			} else {
				m.out = out
			}
		}
		if err == nil {
			err = m.fwd.Subscribe(f, peerSub)
		}
	}
	if err != nil {
		s.log.Warn("cluster: cannot route a filter to a node", "peer", m.name, "filter", f, "error", err)
		return
	}
	if m.filters == nil {
		m.filters = make(map[string]bool)
	}
	m.filters[f] = true
}

// delFilterLocked unsubscribes m's forwarders from filter. Hold s.mu.
func (s *Service) delFilterLocked(m *member, f string) {
	if !m.filters[f] {
		return
	}
	delete(m.filters, f)
	if g := m.groups[f]; g != nil {
		g.Close()
		delete(m.groups, f)
	} else if m.fwd != nil {
		m.fwd.Unsubscribe(f)
	}
}

// forwarder returns the Handle of a forwarder to node: each batch of deliveries goes out as
// frames of at most frameLimit bytes (a larger message alone in its frame).
func (s *Service) forwarder(node, group string) func([]engine.Delivery) {
	tok := token(node)
	subj := subjFwd + tok
	var buf []byte
	return func(ds []engine.Delivery) {
		nc := s.conn.Load()
		if nc == nil {
			s.dropped.Add(uint64(len(ds)))
			return
		}
		now := time.Now().UnixNano()
		buf = buf[:0]
		count := 0
		for i, d := range ds {
			same := count > 0 && ds[i-1].Msg.From == d.Msg.From
			buf = appendRecordAfter(buf, d.Msg, d.QoS, d.Retain, group, now, same)
			count++
			if len(buf) >= frameLimit {
				s.sendFlow(nc, tok, subj, buf, count, nil, 0)
				buf, count = buf[:0], 0
			}
		}
		if count > 0 {
			s.sendFlow(nc, tok, subj, buf, count, nil, 0)
		}
		if cap(buf) > 4*frameLimit {
			buf = nil
		}
	}
}

func (s *Service) send(nc *nats.Conn, subj string, frame []byte, count int) {
	if err := nc.Publish(subj, frame); err != nil {
		s.dropped.Add(uint64(count))
		s.log.Warn("cluster: cannot send messages to another node", "subject", subj, "messages", count, "bytes", len(frame), "error", err)
	}
}

// routeSlice is how many of a frame's messages onForward routes at a time.
const routeSlice = 128

// inboundScratch is onForward's decoding space, reused across frames.
type inboundScratch struct {
	recs []record
	pms  []engine.PeerMessage
}

// inboundFree keeps onForward's scratch between frames. Not a sync.Pool: the receiving
// node collects garbage every few milliseconds under load (each frame arrives in a fresh
// buffer), a collection empties a pool, and regrowing ~800 records a frame took an eighth of
// that node's CPU. Frames arrive on one subscription, so one scratch is used at a time; the
// second slot covers a backbone being rebuilt.
var inboundFree = make(chan *inboundScratch, 2)

// keptRecords bounds the scratch kept: a frame of frameLimit bytes of 64-byte messages.
const keptRecords = 16 << 10

// onForward routes the messages another node forwarded to this node's subscribers.
func (s *Service) onForward(msg *nats.Msg) {
	var tStart int64
	if trace != nil {
		tStart = trace.received(msg)
	}
	var sc *inboundScratch
	select {
	case sc = <-inboundFree:
	default:
		sc = new(inboundScratch)
	}
	recs := sc.recs[:0]
	b := msg.Data
	var prev *record
	for len(b) > 0 {
		if len(recs) == cap(recs) {
			recs = append(recs, record{})[:len(recs)]
		}
		recs = recs[:len(recs)+1]
		r := &recs[len(recs)-1]
		var err error
		if b, err = nextRecord(b, r, prev); err != nil {
			s.log.Warn("cluster: dropping a bad frame from another node", "error", err)
			r.clear()
			recs = recs[:len(recs)-1]
			break
		}
		prev = r
	}
	pms := sc.pms[:0]
	for i := range recs {
		pms = append(pms, engine.PeerMessage{Publish: &recs[i].pub, From: recs[i].from, Group: recs[i].group})
	}
	// In slices: the event loops write a slice's deliveries while the next one is routed.
	for i := 0; i < len(pms); i += routeSlice {
		s.inbound.RouteFromPeer(pms[i:min(i+routeSlice, len(pms))])
	}
	s.ackFrame(msg)
	if trace != nil {
		trace.routed(msg, tStart, len(pms))
	}
	s.met.framesIn.Add(1)
	s.met.msgsIn.Add(uint64(len(pms)))
	clear(pms)
	for i := range recs {
		recs[i].clear()
	}
	sc.recs, sc.pms = recs[:0], pms[:0]
	if cap(sc.recs) > keptRecords { // an unusual frame's space is not kept
		return
	}
	select {
	case inboundFree <- sc:
	default:
	}
}

// published is the MessagePublished hook: a retained message is queued for the other
// nodes. Runs on an event loop: it only queues.
func (s *Service) published(msg *sessions.Message, _ int) {
	if !msg.Retain {
		return
	}
	msg.Hold()
	select {
	case s.retainQ <- msg:
	default:
		msg.Release()
		s.dropped.Add(1)
	}
}

// sendRetained sends the queued retained messages to every node.
func (s *Service) sendRetained() {
	defer s.wg.Done()
	var buf []byte
	for {
		var msg *sessions.Message
		select {
		case <-s.stop:
			return
		case msg = <-s.retainQ:
		}
		now := time.Now().UnixNano()
		buf = appendRecord(buf[:0], msg, msg.QoS, true, "", now)
		msg.Release()
		count := 1
	more:
		for len(buf) < frameLimit {
			select {
			case msg = <-s.retainQ:
				buf = appendRecord(buf, msg, msg.QoS, true, "", now)
				msg.Release()
				count++
			default:
				break more
			}
		}
		if nc := s.conn.Load(); nc != nil {
			s.sendToRunning(nc, subjRetainTo, buf, count) // heal.go
		}
	}
}

// copyRetained sends this node's retained messages (but $SYS ones, which are each node's own)
// to node, in frames.
func (s *Service) copyRetained(node string) {
	nc := s.conn.Load()
	if nc == nil || validNodeName(node) != nil {
		return
	}
	subj := subjRetainTo + token(node)
	var buf []byte
	count, total := 0, 0
	now := time.Now().UnixNano()
	s.n.RangeRetained("#", func(m *sessions.Message) bool {
		buf = appendRecord(buf, m, m.QoS, true, "", now)
		count++
		if len(buf) >= frameLimit {
			s.send(nc, subj, buf, count)
			total += count
			buf, count = buf[:0], 0
		}
		return true
	})
	if count > 0 {
		s.send(nc, subj, buf, count)
		total += count
	}
	if total > 0 {
		s.log.Info("cluster: retained messages copied to a node", "peer", node, "messages", total)
	}
}

// onRetain stores the retained messages of another node.
func (s *Service) onRetain(msg *nats.Msg) {
	var r record
	b := msg.Data
	for len(b) > 0 {
		var err error
		if b, err = nextRecord(b, &r, nil); err != nil {
			s.log.Warn("cluster: dropping a bad retained frame from another node", "error", err)
			return
		}
		s.n.RetainFromPeer(&r.pub, r.from)
	}
}
