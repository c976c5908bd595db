package engine

import (
	"sync/atomic"

	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// durability is how the engine keeps its state across a restart: every step of the MQTT
// protocol that the durable store must see is one named call here, so that the protocol code
// (deliver.go, publish.go, subscribe.go, connect.go, lifecycle.go, timers.go) reads as the
// protocol. Two implementations: storeDurability (durable_store.go, over a sessions.Store:
// Config.Store) and memoryOnly (no store: every method does nothing).
//
// No method waits for the disk. Calls marked "hold s's lock" run with the session's lock
// held; the others are safe from any goroutine. The per-delivery calls (routed, sent,
// forgotten) are made only for durable sessions (Session.Durable, never set by memoryOnly),
// so a node without a store, and a session that is not persistent, pay nothing for them.
//
// Writes the publisher's acknowledgement depends on (routed, adopt, pendingAdded, and the
// retained write) report into a publishWrites; the others are counted and logged when the
// store refuses them, and their state stays in memory only.
type durability interface {
	// load fills the retained index and the persistent sessions, before listeners accept.
	load() error
	// close flushes and closes the store once the loops have stopped.
	close()

	// canPersist reports whether a session of clientID can be kept durable.
	canPersist(clientID string) bool
	// sessionCreated prepares a new session's sequence numbers. Hold s's lock.
	sessionCreated(s *sessions.Session)
	// makeDurable writes everything s holds and marks it durable. Hold s's lock.
	makeDurable(s *sessions.Session)
	// dropRecords deletes every record of s (ended, or no longer persistent) and marks it
	// not durable; nothing when it is not durable. Hold s's lock.
	dropRecords(s *sessions.Session)
	// sessionState writes the state record of durable s (expiry, delayed will). Hold s's lock.
	sessionState(s *sessions.Session)
	// subscribed and unsubscribed record a subscription change of durable s. Hold s's lock.
	subscribed(s *sessions.Session, filter string, o trie.Options)
	unsubscribed(s *sessions.Session, filter string)

	// retained records msg as the retained message of topic (nil: its deletion). It
	// returns whether a following commit covers the write, or the store's refusal.
	retained(topic string, msg *sessions.Message) (accepted bool, err error)

	// routed takes the next sequence number of durable s for a QoS 1/2 delivery of msg and
	// writes its record, on the publisher's loop, without s's lock. logSeq is 0 when the
	// write was refused (reported in w).
	routed(w *publishWrites, s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32) (seq, logSeq uint64)
	// adopt returns q, a QoS 1/2 delivery entering durable s without a record, with its
	// sequence number, and writes its record. Hold s's lock. (Queued goes by value here and
	// in sent: a pointer to the caller's variable would move it to the heap on every
	// delivery, durable or not, as escape analysis cannot see through an interface call.)
	adopt(w *publishWrites, s *sessions.Session, q sessions.Queued) sessions.Queued
	// sent records that stored delivery q went out (resent with DUP after a restart). Hold
	// s's lock.
	sent(s *sessions.Session, q sessions.Queued)
	// pubrecReceived records that stored delivery f passed PUBREC and releases the stored
	// body of msg (f.Msg is already nil). It reports whether the stage change was accepted,
	// i.e. whether PUBREL must wait for a commit. Hold s's lock.
	pubrecReceived(s *sessions.Session, f *sessions.Inflight, msg *sessions.Message) bool
	// forgotten deletes the record seq of s (acknowledged, dropped, or routed to a session
	// that ended meanwhile) and its reference on msg (nil past PUBREC). Hold s's lock.
	forgotten(s *sessions.Session, seq uint64, msg *sessions.Message)
	// pendingAdded and pendingRemoved record an inbound QoS 2 packet id of durable s
	// awaiting PUBREL, and its end. Hold s's lock or own s's loop.
	pendingAdded(w *publishWrites, s *sessions.Session, id uint16)
	pendingRemoved(s *sessions.Session, id uint16)

	// commit calls done, on another goroutine or at once, when every write accepted so far
	// is durable, or with the error that prevented it.
	commit(done func(error))
	// durable reports whether the write at log position logSeq is durable.
	durable(logSeq uint64) bool
	// down reports whether the store is failed (disk full or unwritable). Ask it only when
	// the hint returned by downHint is set.
	down() bool
	// downHint returns the flag set when a commit failed or a write found the store failed:
	// a cheap gate in front of down.
	downHint() *atomic.Bool
	// counters returns the writes the store refused and the commits that failed.
	counters() (writesRefused, commitsFailed uint64)
}

// publishWrites is what the durable store did for the PUBLISH being handled on a loop: the
// acknowledgement waits for a commit when a write was accepted, and is a refusal when one
// was refused. Owned by the loop; reset before each publish is routed.
type publishWrites struct {
	wrote   bool  // a write was accepted: the acknowledgement waits for a commit
	refused error // the first write the store refused, nil if none
}

// note records the outcome of one write.
func (w *publishWrites) note(err error) {
	if err == nil {
		w.wrote = true
	} else if w.refused == nil {
		w.refused = err
	}
}

// initDurability sets the node's durability, over Config.Store or memory only, and the gates
// in front of it. Called by New.
func (n *Node) initDurability() {
	if st := n.cfg.Store; st != nil {
		n.dur = newStoreDurability(n, st)
		n.hasStore = true
	} else {
		n.dur = memoryOnly{}
	}
	n.storeHint = n.dur.downHint()
}

// forget deletes the record of an entry leaving s (acknowledged or dropped) when it has one;
// msg is the message it references, nil past PUBREC. Hold s's lock. The gate keeps the
// interface call off the path of sessions that are not durable.
func (n *Node) forget(s *sessions.Session, seq uint64, msg *sessions.Message) {
	if seq != 0 && s.Durable.Load() {
		n.dur.forgotten(s, seq, msg)
	}
}

// saveState writes the state record of s if it is durable. Hold s's lock.
func (n *Node) saveState(s *sessions.Session) {
	if s.Durable.Load() {
		n.dur.sessionState(s)
	}
}

// memoryOnly is the durability of a node without a store: nothing survives a restart, and
// every method does nothing (no session ever becomes durable).
type memoryOnly struct{}

var neverDown atomic.Bool // memoryOnly's downHint: never set

func (memoryOnly) load() error                                            { return nil }
func (memoryOnly) close()                                                 {}
func (memoryOnly) canPersist(string) bool                                 { return false }
func (memoryOnly) sessionCreated(*sessions.Session)                       {}
func (memoryOnly) makeDurable(*sessions.Session)                          {}
func (memoryOnly) dropRecords(*sessions.Session)                          {}
func (memoryOnly) sessionState(*sessions.Session)                         {}
func (memoryOnly) subscribed(*sessions.Session, string, trie.Options)     {}
func (memoryOnly) unsubscribed(*sessions.Session, string)                 {}
func (memoryOnly) retained(string, *sessions.Message) (bool, error)       { return false, nil }
func (memoryOnly) sent(*sessions.Session, sessions.Queued)                {}
func (memoryOnly) forgotten(*sessions.Session, uint64, *sessions.Message) {}
func (memoryOnly) pendingAdded(*publishWrites, *sessions.Session, uint16) {}
func (memoryOnly) pendingRemoved(*sessions.Session, uint16)               {}
func (memoryOnly) commit(done func(error))                                { done(nil) }
func (memoryOnly) durable(uint64) bool                                    { return true }
func (memoryOnly) down() bool                                             { return false }
func (memoryOnly) downHint() *atomic.Bool                                 { return &neverDown }
func (memoryOnly) counters() (uint64, uint64)                             { return 0, 0 }

func (memoryOnly) routed(*publishWrites, *sessions.Session, *sessions.Message, uint8, bool, []uint32) (uint64, uint64) {
	return 0, 0
}

func (memoryOnly) pubrecReceived(*sessions.Session, *sessions.Inflight, *sessions.Message) bool {
	return false
}

func (memoryOnly) adopt(_ *publishWrites, _ *sessions.Session, q sessions.Queued) sessions.Queued {
	return q
}
