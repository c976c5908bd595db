package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// Cluster peers.
//
// Another node of a cluster is an internal subscriber here (SubscriberOptions.Peer): the
// cluster service subscribes it to the filters that node's clients subscribe to, and its
// Handle forwards the deliveries to that node. Three things distinguish a peer from other
// internal subscribers, and they are all here, off the single-node hot path:
//
//   - its subscriptions are not local interest: WatchRoutes does not report them (the node
//     announces only what its own clients, sessions and other internal subscribers want);
//   - a message that came from another node is routed to local subscribers only
//     (RouteFromPeer): never to a peer (the sending node forwards to every node itself), and
//     to a shared group only when the sender picked this node for that group;
//   - a shared group on a peer handle is a whole node: the publishing node picks among its
//     local members and one handle per remote node that has members, and the chosen node
//     picks among its own members (pickLocal), both with broker.shared_subscription_strategy.

// routeWatch counts the local subscriptions of each filter, as stored (mountpoint and any
// $share/<group>/ or $queue/ prefix included), and reports a filter's first subscription
// and its last unsubscription.
type routeWatch struct {
	mu     sync.Mutex
	counts map[string]int
	fn     func(filter string, added bool)
}

// ErrWatchAfterStart is returned by WatchRoutes on a started node.
var ErrWatchAfterStart = errors.New("engine: WatchRoutes must be called before Start")

// WatchRoutes installs fn, called when a topic filter gets its first local subscription
// (added) and when it loses its last one: subscriptions of clients and their sessions
// (persistent sessions loaded at start included), of the control commands and of internal
// subscribers other than cluster peers. filter is as stored: under the mountpoint, with any
// "$share/<group>/" or "$queue/" prefix. fn is called with the watch's lock held, in the
// order of the changes, from whatever goroutine subscribes (often an event loop): it must
// return at once, never block and never call back into the Node. Call it once, before
// Start.
func (n *Node) WatchRoutes(fn func(filter string, added bool)) error {
	if !n.started.IsZero() {
		return ErrWatchAfterStart
	}
	if !n.routes.CompareAndSwap(nil, &routeWatch{counts: make(map[string]int), fn: fn}) {
		return errors.New("engine: WatchRoutes was already called")
	}
	return nil
}

// LocalRoutes returns the filters WatchRoutes counts, in no particular order. Safe from any
// goroutine; nil before WatchRoutes.
func (n *Node) LocalRoutes() []string {
	w := n.routes.Load()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.counts))
	for f := range w.counts {
		out = append(out, f)
	}
	return out
}

func (w *routeWatch) change(filter string, delta int) {
	w.mu.Lock()
	c := w.counts[filter] + delta
	switch {
	case c <= 0:
		if _, had := w.counts[filter]; had {
			delete(w.counts, filter)
			w.fn(filter, false)
		}
	case c == 1 && delta > 0:
		w.counts[filter] = c
		w.fn(filter, true)
	default:
		w.counts[filter] = c
	}
	w.mu.Unlock()
}

// indexSubscribe adds s's subscription to the index, telling the route watch about new
// local interest.
func (n *Node) indexSubscribe(filter string, s *sessions.Session, o trie.Options) (bool, error) {
	added, err := n.subs.Subscribe(filter, s, o)
	if added {
		if w := n.routes.Load(); w != nil && !isPeer(s) {
			w.change(filter, 1)
		}
	}
	return added, err
}

// indexUnsubscribe removes s's subscription from the index, telling the route watch.
func (n *Node) indexUnsubscribe(filter string, s *sessions.Session) bool {
	removed := n.subs.Unsubscribe(filter, s)
	if removed {
		if w := n.routes.Load(); w != nil && !isPeer(s) {
			w.change(filter, -1)
		}
	}
	return removed
}

// isPeer reports whether s is the handle of a cluster peer. An internal subscriber's Owner
// never changes, so it is read without the session lock once Home says internal.
func isPeer(s *sessions.Session) bool {
	if s.Home.Load() != homeInternal {
		return false
	}
	sub, _ := s.Owner.(*Subscriber)
	return sub != nil && sub.opts.Peer
}

// PeerMessage is a message that another node of the cluster forwarded here.
type PeerMessage struct {
	// Publish has the topic, payload, QoS, RETAIN flag (as published) and MQTT 5 properties;
	// a Message Expiry Interval is what remains of it; its packet identifier becomes the
	// message's PeerTag. Its bytes are borrowed: RouteFromPeer copies what it keeps.
	Publish *codec.Publish
	// From is the publisher's client id ("" for the broker's own messages).
	From string
	// Group is "" for a message forwarded to this node's ordinary subscriptions, or the
	// shared subscription filter ("$share/g/t/#", "$queue/t") whose group the sender picked
	// this node for: one local member of that group gets it.
	Group string
}

// RouteFromPeer routes messages forwarded by another node to this node's own subscribers:
// never to a cluster peer, and to a shared group only as Group says. It returns how many
// subscriptions received them. The messages are not retained here (retained messages are
// replicated with RetainFromPeer). Safe from any goroutine; never call it from an event
// loop callback.
func (sub *Subscriber) RouteFromPeer(msgs []PeerMessage) int {
	if len(msgs) == 0 {
		return 0
	}
	n := sub.n
	now := time.Now().UnixNano()
	l := n.sideLoop()
	l.side.Lock()
	defer l.side.Unlock()
	l.begin()
	count := 0
	var matched []byte // topic of l.matches, while it holds an ordinary match
	for i := range msgs {
		pm := &msgs[i]
		p := pm.Publish
		msg := l.peerBlock.New(p, p.Topic, pm.From, now) // see sessions.MessageBlock
		msg.PeerTag = p.PacketID                         // the sender's tag of the message (cluster: tag.go)
		// The message's first delivery to another loop takes over the hold it was built
		// with: one locked instruction per message less (two, with Release's sole-holder
		// case on the owner loop), where each waited for the message's stores to leave the
		// core (a sixth of the receiving node's CPU in cluster-p2p-q0).
		l.giveHold = msg
		if pm.Group == "" {
			// A run of one topic (a publisher's burst, forwarded in one frame) is matched
			// once: the messages of one call are routed as if published at one instant.
			fresh := matched == nil || !bytes.Equal(matched, p.Topic)
			count += l.routeLocal(msg, fresh)
			matched = p.Topic
		} else {
			count += l.routeGroup(msg, pm.Group)
			matched = nil
		}
		if l.giveHold == msg { // no delivery took it
			l.giveHold = nil
			msg.Release()
		}
	}
	l.end()
	return count
}

// routeLocal delivers msg to the ordinary subscriptions of this node's own sessions and
// internal subscribers (no peer, no shared group); with fresh false, to those l.matches
// already holds for the same topic. Runs on the side loop with its lock held.
func (l *loop) routeLocal(msg *sessions.Message, fresh bool) int {
	m := &l.matches
	if fresh {
		m.Reset()
		l.n.subs.Match(msg.Topic, m)
	}
	count := 0
	copies := msg.QoS > 0 && msg.PeerTag != 0 && l.n.relays.copies.count.Load() > 0 // once per message
	for i := range m.Subscribers {
		sm := &m.Subscribers[i]
		if isPeer(sm.Handle) || copies && l.n.isCopy(sm.Handle, msg) {
			continue // a copy of a message the moving session has (peer_copies.go)
		}
		l.ids = m.SubscriptionIDs(i, l.ids[:0])
		l.deliverTo(sm.Handle, msg, sm.QoS, sm.RetainAsPublished && msg.Retain, l.ids)
		count++
	}
	l.stats.Routed += uint64(count)
	return count
}

// routeGroup delivers msg to one local member of the shared group of filter. Runs on the
// side loop with its lock held.
func (l *loop) routeGroup(msg *sessions.Message, filter string) int {
	name, plain := splitGroup(filter)
	m := &l.matches
	m.Reset()
	l.n.subs.Match(msg.Topic, m)
	for _, g := range m.Groups {
		if g.Name() != name || g.Filter() != plain {
			continue
		}
		mem, ok := l.n.pickLocal(g, msg, &l.peerScratch)
		if !ok {
			return 0
		}
		l.ids = l.ids[:0]
		if mem.Options.SubID != 0 {
			l.ids = append(l.ids, mem.Options.SubID)
		}
		l.deliverTo(mem.Handle, msg, mem.Options.QoS, mem.Options.RetainAsPublished && msg.Retain, l.ids)
		l.stats.Routed++
		return 1
	}
	return 0
}

// splitGroup returns the group name and plain filter of "$share/<group>/<filter>" or
// "$queue/<filter>" (as the index names them).
func splitGroup(filter string) (name, plain string) {
	if rest, ok := strings.CutPrefix(filter, "$queue/"); ok {
		return "$queue", rest
	}
	rest, _ := strings.CutPrefix(filter, "$share/")
	name, plain, _ = strings.Cut(rest, "/")
	return name, plain
}

// pickLocal picks a member of g that is not a cluster peer, with the node's strategy.
// scratch is the caller's buffer for the local members.
func (n *Node) pickLocal(g *trie.Group[*sessions.Session], msg *sessions.Message, scratch *[]trie.Member[*sessions.Session]) (trie.Member[*sessions.Session], bool) {
	members := (*scratch)[:0]
	for _, m := range g.Members() {
		if !isPeer(m.Handle) {
			members = append(members, m)
		}
	}
	*scratch = members
	defer clear(members)
	if len(members) == 0 {
		return trie.Member[*sessions.Session]{}, false
	}
	var i int
	switch n.cfg.SharedStrategy {
	case "round_robin":
		i = int(g.Cursor.Add(1) % uint64(len(members)))
	case "sticky":
		i = int(g.Cursor.Load() % uint64(len(members)))
		for k := 0; k < len(members); k++ {
			j := (i + k) % len(members)
			if online(members[j].Handle) {
				i = j
				g.Cursor.Store(uint64(j))
				break
			}
		}
	case "hash":
		i = int(hashString(msg.From) % uint64(len(members)))
	case "hash_topic":
		i = int(hashBytes(msg.Topic) % uint64(len(members)))
	default:
		i = int(fastrand() % uint64(len(members)))
	}
	return members[i], true
}

// RetainFromPeer stores (or, with an empty payload, deletes) a retained message that another
// node of the cluster received, without routing it. p's bytes are borrowed (copied here).
// Safe from any goroutine.
func (n *Node) RetainFromPeer(p *codec.Publish, from string) {
	msg := sessions.NewMessage(p, p.Topic, from, time.Now().UnixNano())
	msg.Retain = true
	n.retain(nil, msg, false)
}

// ErrNotTakenOver is returned by TakenOverElsewhere when clientID is not connected here since
// before the other node's connect.
var ErrNotTakenOver = errors.New("engine: no older connection of this client id here")

// TakenOverElsewhere ends the local connection and session of clientID because the client
// connected to another node of the cluster at connectedAt (unix nanoseconds, that node's
// ClientEvent.ConnectedAt): a connection accepted here before then gets DISCONNECT 0x8E
// (MQTT 5; 3.x: closed), its will is published as for any ended session, and its session ends
// here (its state does not move to the other node). A connection accepted here later is left
// alone (ErrNotTakenOver). Cost: one task on the client's loop. Safe from any goroutine but
// the loops.
func (n *Node) TakenOverElsewhere(ctx context.Context, clientID string, connectedAt int64) error {
	c := n.ownerOf(clientID)
	if c == nil {
		return ErrNoClient
	}
	ok, err := runOnLoop(ctx, c.loop, func() bool {
		if !c.online() || c.connectedAt >= connectedAt {
			return false
		}
		s := c.sess
		n.reg.Update(clientID, func(cur *sessions.Session) *sessions.Session {
			if cur != s {
				return cur
			}
			s.Lock()
			n.discardLocked(s, "taken over by another node")
			s.Unlock()
			return nil
		})
		c.closeWith(codec.SessionTakenOver, "taken over by a connection on another node")
		return true
	})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotTakenOver
	}
	return nil
}

// RangeRetained calls fn with each retained message whose topic matches filter and that has
// not expired, until fn returns false. The messages are read-only and valid during the call
// (Hold to keep one longer). The index is locked only while a batch is taken. Safe from any
// goroutine but the loops.
func (n *Node) RangeRetained(filter string, fn func(*sessions.Message) bool) error {
	rp := retainedReplays.Get().(*retainedReplay)
	defer rp.done()
	if err := rp.cur.Start(n.retained, filter); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	for !rp.cur.Done() {
		batch := rp.cur.Next(rp.batch[:0], retainedBatch)
		for i, m := range batch {
			if !m.Expired(now) && !fn(batch[i]) {
				clear(batch)
				return nil
			}
		}
		clear(batch)
	}
	return nil
}
