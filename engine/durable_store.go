package engine

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
	"github.com/emqgo/emqgo/trie"
)

// Persistent sessions in the durable store (Config.Store).
//
// A session is durable (Session.Durable) while it is persistent (expiry interval > 0) and a
// store is configured. Its state lives in memory as for any session; every change the store
// must see is written as it happens, never waiting for the disk, and the only waits are the
// publisher's acknowledgements (ackDurable): a PUBLISH whose routing wrote to the store is
// acknowledged once those writes are durable.
//
// Each QoS 1/2 delivery to a durable session takes the next sequence number of the session
// (Queued.Seq) when it is routed, on the publisher's loop, and its record is written there,
// before the Commit that releases the publisher's PUBACK/PUBREC. The record is rewritten when
// the message is sent (its stage) and when PUBREC arrives (the body is no longer needed), and
// deleted when the flow ends or the message is dropped. Every QoS 1/2 entry of a durable
// session's queue and window has a sequence number and a record; entries that arrive without
// one (retained messages sent at subscribe, a delivery routed before the session became
// durable) take one when they enter the session.
//
// The packet identifier of a stored delivery is derived from its sequence number
// (sessions.PacketIDFor), so a message in flight at a crash is sent again after the restart
// with the identifier the client saw, without the assignment ever being written.
//
// Exactly-once towards subscribers: the stage change to AwaitPubcomp (PUBREC received) is
// written without waiting. If a crash loses it, the entry comes back at AwaitPubrec with its
// message and the message is sent again with DUP and the same packet identifier. The client
// received that PUBLISH before and, as the receiver of a QoS 2 flow, keeps the packet
// identifier until it gets PUBREL [MQTT-4.3.3-9]: it treats the retransmission as a duplicate,
// answers PUBREC again, and the broker continues with PUBREL. The message body is released
// only after the stage change is written, so a body is never missing for an entry that can
// still need it (the log is durable in order).
//
// Exactly-once from publishers: the inbound QoS 2 packet id record ('p') is written after the
// routing records of the message and PUBREC waits for all of them; as the log is durable in
// order, a durable 'p' implies durable deliveries, so a retransmission after a crash is never
// mistaken for a message already routed when it was not. PUBCOMP also waits for the deletion
// of 'p', so that the client cannot reuse the identifier for a new message that a crash would
// then take for a retransmission.
//
// Refusals: the store refuses a write while it is failed, when more bytes wait for the disk
// than its pending limit, or for a record larger than that limit. A refused write the
// publisher's acknowledgement depends on (the retained message, a delivery's record, 'p')
// is noted in the publish's publishWrites and the publisher is refused (refuseUndurable);
// any other refused write leaves its state in memory only. Both are counted (refused).

// storeDurability is the durability of a node with a durable store (Config.Store): every
// step writes to the store without waiting for the disk, and refusals are counted and logged
// once per change of state. Safe for concurrent use (the store and the counters are); the
// methods that take a session need its lock as the interface says.
type storeDurability struct {
	n  *Node
	st *sessions.Store

	refusing atomic.Bool   // the last write was refused by the store (logged once per change)
	hint     atomic.Bool   // a commit failed or a write found the store failed: ask down
	refused  atomic.Uint64 // writes the store refused: the state stays in memory only
	failed   atomic.Uint64 // commits that reported an error
	seqBase  atomic.Uint64 // see sessionCreated
}

func newStoreDurability(n *Node, st *sessions.Store) *storeDurability {
	return &storeDurability{n: n, st: st}
}

// stored accounts for a write the store refused (the state stays in memory only) and
// reports whether it was accepted.
func (d *storeDurability) stored(err error) bool {
	if err != nil {
		d.refused.Add(1)
		if errors.Is(err, kvlog.ErrUnavailable) {
			d.hint.Store(true)
		}
		if d.refusing.CompareAndSwap(false, true) {
			d.n.log.Warn("durable store refuses writes: state is kept in memory only until it recovers", "cause", err)
		}
		return false
	}
	if d.refusing.Load() && d.refusing.CompareAndSwap(true, false) {
		d.n.log.Info("durable store accepts writes again")
	}
	return true
}

func (d *storeDurability) canPersist(clientID string) bool {
	return !strings.Contains(clientID, "\x00")
}

// sessionCreated starts a new session's sequence numbers far above every sequence number an
// earlier session of the same client identifier used, so that a late record of an ended
// session never names an entry of its successor.
func (d *storeDurability) sessionCreated(s *sessions.Session) {
	s.SeqBase = d.seqBase.Add(1 << 32)
	s.Seq.Store(s.SeqBase)
}

func (d *storeDurability) sessionState(s *sessions.Session) {
	d.stored(d.st.PutSession(s.ClientID, sessions.StateOf(s)))
}

func (d *storeDurability) subscribed(s *sessions.Session, filter string, o trie.Options) {
	d.stored(d.st.PutSub(s.ClientID, filter, o))
}

func (d *storeDurability) unsubscribed(s *sessions.Session, filter string) {
	d.stored(d.st.DeleteSub(s.ClientID, filter))
}

func (d *storeDurability) retained(topic string, msg *sessions.Message) (bool, error) {
	var err error
	if msg == nil {
		err = d.st.DeleteRetained(topic)
	} else {
		err = d.st.PutRetained(topic, msg)
	}
	return d.stored(err), err
}

func (d *storeDurability) routed(w *publishWrites, s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32) (seq, logSeq uint64) {
	seq = s.Seq.Add(1)
	q := sessions.Queued{Msg: msg, QoS: subQoS, Retain: retain, SubIDs: ids}
	err := d.st.PutEntry(s.ClientID, seq, &q, sessions.StageQueued, true)
	if d.stored(err) {
		logSeq = d.st.LastSeq()
	}
	w.note(err)
	return seq, logSeq
}

func (d *storeDurability) adopt(w *publishWrites, s *sessions.Session, q sessions.Queued) sessions.Queued {
	q.Seq = s.Seq.Add(1)
	err := d.st.PutEntry(s.ClientID, q.Seq, &q, sessions.StageQueued, true)
	if d.stored(err) {
		q.LogSeq = d.st.LastSeq()
	}
	w.note(err)
	return q
}

func (d *storeDurability) sent(s *sessions.Session, q sessions.Queued) {
	d.stored(d.st.PutEntry(s.ClientID, q.Seq, &q, stageFor(q.QoS), false))
}

// pubrecReceived writes the stage change before releasing the body (see the comment at the
// top of this file).
func (d *storeDurability) pubrecReceived(s *sessions.Session, f *sessions.Inflight, msg *sessions.Message) bool {
	ok := d.stored(d.st.PutEntry(s.ClientID, f.Seq, &f.Queued, sessions.AwaitPubcomp, false))
	d.stored(d.st.Release(msg))
	return ok
}

func (d *storeDurability) forgotten(s *sessions.Session, seq uint64, msg *sessions.Message) {
	d.stored(d.st.DeleteEntry(s.ClientID, seq, msg))
}

func (d *storeDurability) pendingAdded(w *publishWrites, s *sessions.Session, id uint16) {
	err := d.st.PutPending(s.ClientID, id)
	d.stored(err)
	w.note(err)
}

func (d *storeDurability) pendingRemoved(s *sessions.Session, id uint16) {
	d.stored(d.st.DeletePending(s.ClientID, id))
}

// commit counts a failed commit and sets the hint that makes publishers ask down.
func (d *storeDurability) commit(done func(error)) {
	d.st.Commit(func(err error) {
		if err != nil {
			d.failed.Add(1)
			d.hint.Store(true)
		}
		done(err)
	})
}

func (d *storeDurability) durable(logSeq uint64) bool { return logSeq <= d.st.DurableSeq() }

// down asks the store (a lock) and clears the hint once it recovered. Refusals for other
// causes (too much pending, a record too large) are answered where the write is made.
func (d *storeDurability) down() bool {
	if d.st.Failed() {
		return true
	}
	d.hint.Store(false)
	return false
}

func (d *storeDurability) downHint() *atomic.Bool { return &d.hint }

func (d *storeDurability) counters() (uint64, uint64) { return d.refused.Load(), d.failed.Load() }

func (d *storeDurability) close() {
	if err := d.st.Close(); err != nil && !errors.Is(err, kvlog.ErrClosed) {
		d.n.log.Error("durable store: final flush failed", "error", err)
	}
}

// makeDurable writes everything s holds to the store and marks it durable. Entries already
// in flight keep their packet identifiers: each gets the next sequence number that derives
// to it. Hold s's lock.
func (d *storeDurability) makeDurable(s *sessions.Session) {
	st := d.st
	cid := s.ClientID
	d.stored(st.PutSession(cid, sessions.StateOf(s)))
	for _, sub := range s.Subs {
		d.stored(st.PutSub(cid, sub.Filter, sub.Options))
	}
	s.Window.Each(func(f *sessions.Inflight) bool {
		if f.Seq == 0 {
			for {
				c := s.Seq.Load()
				seq := c + 1 + (uint64(f.PacketID)+65535-1-(c+1)%65535)%65535
				if s.Seq.CompareAndSwap(c, seq) {
					f.Seq = seq
					break
				}
			}
		}
		d.stored(st.PutEntry(cid, f.Seq, &f.Queued, f.Stage, f.Msg != nil))
		return true
	})
	s.Queue.Update(func(q *sessions.Queued) {
		if q.QoS == 0 {
			return
		}
		q.Seq = s.Seq.Add(1)
		d.stored(st.PutEntry(cid, q.Seq, q, sessions.StageQueued, true))
	})
	s.Pending.Each(func(id uint16, _ int64) { d.stored(st.PutPending(cid, id)) })
	s.Durable.Store(true)
}

// dropRecords deletes every record of durable session s (the session ended, or is no longer
// persistent) and marks it not durable. Hold s's lock.
func (d *storeDurability) dropRecords(s *sessions.Session) {
	if !s.Durable.Load() {
		return
	}
	st := d.st
	cid := s.ClientID
	for _, sub := range s.Subs {
		d.stored(st.DeleteSub(cid, sub.Filter))
	}
	s.Window.Each(func(f *sessions.Inflight) bool {
		if f.Seq != 0 {
			d.stored(st.DeleteEntry(cid, f.Seq, f.Msg))
		}
		return true
	})
	s.Queue.Each(func(q sessions.Queued) bool {
		if q.Seq != 0 {
			d.stored(st.DeleteEntry(cid, q.Seq, q.Msg))
		}
		return true
	})
	s.Pending.Each(func(id uint16, _ int64) { d.stored(st.DeletePending(cid, id)) })
	d.stored(st.DeleteSession(cid))
	s.Durable.Store(false)
}
