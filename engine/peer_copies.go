package engine

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/sessions"
)

// Copies of a message that reach a moving session by two ways.
//
// While a session moves from node A to node B (peer_relay.go), a QoS 1/2 message can reach
// it twice: a node routes it to both A and B while both have the session's routes, so one
// copy is in what A hands over (the transfer, when it reached A before the hand-over, or
// the relay, after) and the other arrives at B directly, before or after B merged the
// relay. B recognises the direct copy by its identity: the message's tag between nodes
// (sessions.Message.Tag, carried in the transfer, the relay and the forwarded PUBLISH),
// publisher, topic and payload. From the adoption on, B keeps a copy set for the session:
// the identities of the transfer's QoS 1/2 messages received in the last copyHorizon (an
// older one was not routed around the move), then those of the relayed ones whose copy may
// still come: per publisher, those after the last one whose copy Merge found (a node
// forwards a publisher's messages in order, so the copy of an earlier one would have come
// before), all of them when Merge found none. A message forwarded by another node
// (RouteFromPeer) whose
// identity is in the set is not delivered to the session, and its identity leaves the set
// (each copy is left out once). The set lives until copyWatch after Merge (or
// copyWatchMax after the adoption, if Merge never comes): what was on its way to B when A
// answered arrives well within it. Messages published on B itself are routed to the
// session before B forwards them anywhere: their copies come only through the relay, and
// Merge leaves those out.
//
// A message is left out wrongly only if its publisher sent, within that window, a message
// with the same topic and payload whose 16-bit tag is equal to one still in the set (about
// 1 in 65,536 per such pair: a publisher repeating one payload, with a few dozen
// identities left in the set, loses about one message in a thousand sent to the session
// in the two seconds after its move). Shared subscriptions are not de-duplicated (one group member gets each message,
// and a moving session is rarely one). While no set exists the check costs, per forwarded
// message (not per matching subscription), a QoS comparison at QoS 0 and one atomic load
// more at QoS 1/2; the node's own publishes never pass through it.

const (
	// copyWatch is how long a copy set outlives Merge.
	copyWatch = 2 * time.Second
	// copyWatchMax bounds a copy set whose Merge never comes (the old node did not answer).
	copyWatchMax = 15 * time.Second
	// copyHorizon: a transferred message received longer ago than this before the adoption
	// has no copy on its way (the moves' exchanges take well under a second).
	copyHorizon = 5 * time.Second
)

// copySeed seeds the identities' hash (this process only: identities never leave it).
var copySeed = maphash.MakeSeed()

// copyKey is the identity of message m whose tag between nodes is tag.
func copyKey(tag uint16, m *sessions.Message) uint64 {
	var h maphash.Hash
	h.SetSeed(copySeed)
	var n [8]byte
	binary.LittleEndian.PutUint16(n[:], tag)
	h.Write(n[:2])
	for _, part := range [][]byte{[]byte(m.From), m.Topic, m.Payload} {
		binary.LittleEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:4])
		h.Write(part)
	}
	return h.Sum64()
}

// copySet is the identities of the messages a moving session already has, each with how
// many more copies of it to leave out. Safe for concurrent use.
type copySet struct {
	mu      sync.Mutex
	keys    map[uint64]int
	dropped int // copies left out by RouteFromPeer
	done    bool
}

// add records the identity of q's message if it has a tag (a QoS 1/2 message that came
// with one).
func (c *copySet) add(q *sessions.Queued) {
	if q.Msg == nil || q.Msg.QoS == 0 || q.Msg.PeerTag == 0 {
		return
	}
	c.mu.Lock()
	c.keys[copyKey(q.Msg.PeerTag, q.Msg)]++
	c.mu.Unlock()
}

// take reports whether key is in the set, and removes one of it; late counts it as left
// out by RouteFromPeer.
func (c *copySet) take(key uint64, late bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys[key] == 0 {
		return false
	}
	if c.keys[key]--; c.keys[key] == 0 {
		delete(c.keys, key)
	}
	if late {
		c.dropped++
	}
	return true
}

// copySets maps a moving session to its copySet; count says how many exist, so that a
// forwarded message looks the map up only while some do.
type copySets struct {
	m     sync.Map // *sessions.Session -> *copySet
	count atomic.Int32
}

// watchCopies starts s's copy set with the identities of its transferred messages.
func (n *Node) watchCopies(s *sessions.Session, entries []sessions.TransferEntry) *copySet {
	c := &copySet{keys: make(map[uint64]int)}
	since := time.Now().Add(-copyHorizon).UnixNano()
	for i := range entries {
		if m := entries[i].Msg; m != nil && m.Created >= since {
			c.add(&entries[i].Queued)
		}
	}
	n.relays.copies.m.Store(s, c)
	n.relays.copies.count.Add(1)
	time.AfterFunc(copyWatchMax, func() { n.unwatchCopies(s, c) })
	return c
}

// unwatchCopies ends s's copy set c (once).
func (n *Node) unwatchCopies(s *sessions.Session, c *copySet) {
	c.mu.Lock()
	done := c.done
	c.done = true
	dropped := c.dropped
	c.mu.Unlock()
	if done {
		return
	}
	n.relays.copies.m.CompareAndDelete(s, c)
	n.relays.copies.count.Add(-1)
	if dropped > 0 {
		n.log.Info("copies of a moved session's messages left out after they arrived directly", "client", s.ClientID, "copies", dropped)
	}
}

// isCopy reports whether msg, forwarded by another node, is a copy of a message session s
// already has (and then counts it taken). Call it only while some copy set exists.
func (n *Node) isCopy(s *sessions.Session, msg *sessions.Message) bool {
	if msg.PeerTag == 0 {
		return false
	}
	v, ok := n.relays.copies.m.Load(s)
	if !ok {
		return false
	}
	return v.(*copySet).take(copyKey(msg.PeerTag, msg), true)
}

// directCopies returns the indexes in direct (messages routed to the session here since its
// adoption) of the copies of messages in c or in relayed: of relayed ones, or of transferred
// ones that arrived while the adoption was under way. It leaves in c, for the copies still
// on their way, the identities of the relayed messages that may have one (the package
// comment says which).
func directCopies(c *copySet, relayed, direct []sessions.Queued) map[int]bool {
	at := make(map[uint64][]int) // identity -> indexes in relayed without a copy found yet
	for i := range relayed {
		if m := relayed[i].Msg; m.QoS > 0 && m.PeerTag != 0 {
			k := copyKey(m.PeerTag, m)
			at[k] = append(at[k], i)
			c.add(&relayed[i])
		}
	}
	copies := make(map[int]bool)
	last := make(map[string]int) // publisher -> index in relayed of its last message copied
	for i, q := range direct {
		if q.Msg.QoS == 0 {
			continue
		}
		// A direct message published here has no PeerTag: its Tag is the one this node
		// gave it when it forwarded it to the old node.
		k := copyKey(q.Msg.Tag(), q.Msg)
		if !c.take(k, false) {
			continue
		}
		copies[i] = true
		if r := at[k]; len(r) > 0 { // a copy of a relayed message (else of a transferred one)
			at[k] = r[1:]
			if j, ok := last[q.Msg.From]; !ok || r[0] > j {
				last[q.Msg.From] = r[0]
			}
		}
	}
	for k, rs := range at { // no copy will come of a publisher's messages before its last copied
		for _, i := range rs {
			if j, ok := last[relayed[i].Msg.From]; ok && i < j {
				c.take(k, false)
			}
		}
	}
	return copies
}
