package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/sessions"
)

// Sessions that move without losing messages.
//
// Between the hand-over of a session on its old node (A) and the moment every node routes
// its subscriptions to the new node (B), messages for it would otherwise reach neither node:
// A no longer has the session, the others have not heard of B's routes yet. So on A the
// session handed over with HandOverRelay stays in the subscription index as a relay: every
// delivery to it from then on (local publishes, messages forwarded by other nodes, deliveries
// already under way to its loop) is kept in the Relay, at the QoS and with the retain flag and
// subscription identifiers of its subscription, instead of being dropped. A session handed
// over from a connection keeps that connection's loop as its home while it relays: a
// delivery matched before the hand-over may still be on its way to that loop, and one
// matched after goes the same way rather than overtaking it (each publisher's order). The relay also
// keeps A's interest in the session's filters, so the other nodes go on forwarding them to A.
// B adopts the session offline at once (AdoptSession): its subscriptions are indexed there,
// so the other nodes learn B's routes, and what arrives for it directly waits in its queue.
// Once every node has B's routes, B asks A to end the relay (Relay.End: the session leaves
// A's index and the relay gives what it kept) and inserts those messages ahead of the ones
// that came directly (Adopted.Merge), before the client's CONNACK. Each publisher's messages
// therefore arrive in order. A QoS 1/2 message routed to both nodes in the short time when
// both routes exist reaches B twice; B leaves out the direct copy, before or after Merge
// (peer_copies.go). QoS 0 messages that arrive directly while the session is offline follow
// the offline QoS 0 policy (mqueue_store_qos0), and are never de-duplicated.

// relayLimit bounds the deliveries a relay keeps; beyond it the newest are dropped and counted.
const relayLimit = 1 << 20

// Relay keeps the deliveries to a session that was handed over to another node until End.
// Safe for concurrent use.
type Relay struct {
	n    *Node
	s    *sessions.Session
	subs []sessions.Subscription
	at   time.Time
	home int // the loop of the connection handed over (its deliveries pass there), or -1

	mu      sync.Mutex
	kept    []sessions.Queued
	dropped int
	ending  bool // End called
	ended   bool // End done: nothing more is kept
}

// relays maps a relaying session to its Relay; relaying counts them, so that a delivery to an
// ended session looks the map up only while some relay exists. copies are the copy sets of
// the sessions adopted here (peer_copies.go).
type relays struct {
	m      sync.Map // *sessions.Session -> *Relay
	count  atomic.Int32
	copies copySets
}

// HandOverRelay is HandOver for a session that moves (not clean): the session leaves this node
// as HandOver says, but it stays in the subscription index as a relay until the returned
// Relay's End, which the caller must call (the new node asks for it once it has the routes).
// The relay is nil when no session moved (b is nil). Safe from any goroutine but the loops.
func (n *Node) HandOverRelay(ctx context.Context, clientID string) (b []byte, r *Relay, err error) {
	r = &Relay{n: n, at: time.Now()}
	b, err = n.handOver(ctx, clientID, false, r)
	if err != nil || b == nil {
		return b, nil, err
	}
	return b, r, nil
}

// startRelayLocked makes s, which is leaving, a relay: its subscriptions stay indexed. Hold
// s's lock.
func (n *Node) startRelayLocked(s *sessions.Session, r *Relay) {
	r.s = s
	r.home = int(s.Home.Load())
	r.subs = append([]sessions.Subscription(nil), s.Subs...)
	n.relays.m.Store(s, r)
	n.relays.count.Add(1)
}

// relayed is a delivery to the ended session s, whose lock is held: kept when s relays.
// Runs on a loop.
func (l *loop) relayed(s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32) {
	v, ok := l.n.relays.m.Load(s)
	if !ok || msg == nil {
		return
	}
	r := v.(*Relay)
	qos := min(msg.QoS, subQoS)
	if s.UpgradeQoS {
		qos = subQoS
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if len(r.kept) >= relayLimit {
		r.dropped++
		return
	}
	msg.Hold()
	r.kept = append(r.kept, sessions.Queued{Msg: msg, QoS: qos, Retain: retain, SubIDs: ownIDs(ids)})
}

// ClientID is the relayed session's client identifier.
func (r *Relay) ClientID() string { return r.s.ClientID }

// Age is how long ago the session was handed over.
func (r *Relay) Age() time.Duration { return time.Since(r.at) }

// End removes the relaying session from the index (the node announces the routes it no
// longer needs), waits until every loop is past the deliveries it matched before, and returns
// what the relay kept, oldest first, with the number of deliveries it dropped (relayLimit).
// The caller owns the returned messages' holds (sessions.Message.Release). A second End
// returns nothing.
func (r *Relay) End(ctx context.Context) (kept []sessions.Queued, dropped int) {
	n := r.n
	r.mu.Lock()
	if r.ending {
		r.mu.Unlock()
		return nil, 0
	}
	r.ending = true
	r.mu.Unlock()
	r.s.Lock()
	for _, sub := range r.subs {
		n.indexUnsubscribe(sub.Filter, r.s)
	}
	r.s.Unlock()
	// A route that matched the session before it left the index delivers to it afterwards:
	// the relay keeps those until every loop has finished the round it was in, and then,
	// when the session came from a connection, until its loop applied what those rounds
	// passed to it.
	err := n.loopBarrier(ctx)
	if loops := *n.loops.Load(); err == nil && r.home >= 0 && r.home < len(loops) {
		_, err = runOnLoop(ctx, loops[r.home], func() struct{} { return struct{}{} })
	}
	if err != nil {
		n.log.Warn("session relay ended before every loop was past it: a message under way may be lost", "client", r.s.ClientID, "error", err)
	}
	n.relays.m.Delete(r.s)
	n.relays.count.Add(-1)
	r.mu.Lock()
	kept, dropped, r.kept, r.ended = r.kept, r.dropped, nil, true
	r.mu.Unlock()
	return kept, dropped
}

// loopBarrier returns once every loop (and the side loop) has finished the round it was in.
func (n *Node) loopBarrier(ctx context.Context) error {
	var errs []error
	for _, l := range *n.loops.Load() {
		if _, err := runOnLoop(ctx, l, func() struct{} { return struct{}{} }); err != nil {
			errs = append(errs, err)
		}
	}
	l := n.sideLoop()
	l.side.Lock()
	l.begin() // an empty round: taking the lock waited for the current holder's
	l.end()
	l.side.Unlock()
	return errors.Join(errs...)
}

// Adopted is a session that another node handed over, adopted here offline by AdoptSession,
// that may still receive what the old node relayed (Merge). Safe for concurrent use.
type Adopted struct {
	n      *Node
	s      *sessions.Session
	queued int      // how many of the queue's entries came with the transfer
	copies *copySet // identities of what it has, for the copies on their way (peer_copies.go)
}

// AdoptSession registers tr's session here, offline: its subscriptions are indexed (so the
// cluster announces them from this node) and messages routed to it from now on wait in its
// queue. A CONNECT of its client then resumes it. It fails when a session of the same client
// id exists here. Safe from any goroutine but the loops.
func (n *Node) AdoptSession(tr *sessions.Transfer) (*Adopted, error) {
	qlimit := 0
	if len(n.cfg.Listeners) > 0 && n.cfg.Listeners[0].Zone != nil {
		qlimit = n.cfg.Listeners[0].Zone.MaxMqueueLen
	}
	var a *Adopted
	n.reg.Update(tr.ClientID, func(cur *sessions.Session) *sessions.Session {
		if cur != nil {
			return cur
		}
		s := n.newMovedLocked(tr, qlimit, time.Now().UnixNano())
		a = &Adopted{n: n, s: s, queued: s.Queue.Len(), copies: n.watchCopies(s, tr.Entries)}
		return s
	})
	if a == nil {
		return nil, errors.New("engine: a session of client " + tr.ClientID + " exists here")
	}
	return a, nil
}

// newMovedLocked builds the session of tr, its subscriptions indexed. Hold the registry's
// entry (reg.Update).
func (n *Node) newMovedLocked(tr *sessions.Transfer, qlimit int, now int64) *sessions.Session {
	s := sessions.New(tr.ClientID, now)
	n.dur.sessionCreated(s)
	s.ExpiryInterval = tr.State.ExpiryInterval
	s.StoreQoS0, s.UpgradeQoS = tr.State.StoreQoS0, tr.State.UpgradeQoS
	s.Queue.SetLimit(qlimit)
	s.Lock()
	for _, sub := range tr.Subs {
		s.Subscribe(sub.Filter, sub.Options)
		if _, err := n.indexSubscribe(sub.Filter, s, sub.Options); err != nil {
			s.Unsubscribe(sub.Filter)
			n.log.Warn("subscription of a session from another node refused", "client", tr.ClientID, "filter", sub.Filter, "error", err)
		}
	}
	for _, e := range tr.Entries {
		if e.Stage == sessions.StageQueued {
			s.Queue.Push(e.Queued)
			continue
		}
		s.Window.Add(sessions.Inflight{Queued: e.Queued, PacketID: e.PacketID, Stage: e.Stage, SentAt: now})
	}
	for _, id := range tr.Pending {
		s.Pending.Add(id, now)
	}
	s.Unlock()
	if s.ExpiryInterval != 0 {
		n.reg.AddPersistent(1)
	}
	return s
}

// Merge inserts what the old node relayed after the transfer's queued messages and before
// the ones routed here since the adoption, leaving out those of the latter that are copies
// of a relayed or transferred message (peer_copies.go): a QoS 1/2 message with the same tag
// between nodes, publisher, topic and payload. The identities of the relayed messages
// without a copy here yet stay in the session's copy set until copyWatch from now, so that
// RouteFromPeer leaves out the copies still on their way. It returns how many the queue's
// limit dropped (the oldest, as any queue overflow) and how many copies it left out. It
// does nothing but end the copy set's wait once the session ended or changed hands here.
func (a *Adopted) Merge(entries []sessions.Queued) (dropped, dups int) {
	s := a.s
	defer time.AfterFunc(copyWatch, func() { a.n.unwatchCopies(s, a.copies) })
	s.Lock()
	defer s.Unlock()
	if s.Gone || a.n.reg.Get(s.ClientID) != s {
		return 0, 0
	}
	var all []sessions.Queued
	for {
		q, ok := s.Queue.Pop() // its hold passes to us
		if !ok {
			break
		}
		all = append(all, q)
	}
	split := min(a.queued, len(all))
	copies := directCopies(a.copies, entries, all[split:])
	push := func(q sessions.Queued) {
		if old, d := s.Queue.Push(q); d {
			dropped++
			old.Msg.Release()
		}
	}
	for _, q := range all[:split] {
		push(q)
	}
	for _, q := range entries {
		push(q)
	}
	for i, q := range all[split:] {
		if !copies[i] {
			push(q)
		}
	}
	for _, q := range all {
		q.Msg.Release() // Push took its own hold
	}
	a.queued = s.Queue.Len() - (len(all) - split - len(copies))
	return dropped, len(copies)
}
