package engine

import (
	"errors"
	"strings"
	"time"

	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
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

// canPersist reports whether a session of clientID can be kept in the store.
func (n *Node) canPersist(clientID string) bool {
	return n.cfg.Store != nil && !strings.Contains(clientID, "\x00")
}

// stored accounts for a write the store refused (the state stays in memory only) and
// reports whether it was accepted.
func (n *Node) stored(err error) bool {
	p := &n.persist
	if err != nil {
		p.refused.Add(1)
		if errors.Is(err, kvlog.ErrUnavailable) {
			p.downHint.Store(true)
		}
		if p.refusing.CompareAndSwap(false, true) {
			n.log.Warn("durable store refuses writes: state is kept in memory only until it recovers", "cause", err)
		}
		return false
	}
	if p.refusing.Load() && p.refusing.CompareAndSwap(true, false) {
		n.log.Info("durable store accepts writes again")
	}
	return true
}

// newSeqBase returns the first sequence number of a new session: far above every sequence
// number an earlier session of the same client identifier used, so that a late record of an
// ended session never names an entry of its successor.
func (n *Node) newSeqBase() uint64 { return n.seqBase.Add(1 << 32) }

// persistRouted takes the next sequence number of durable session s for msg and writes the
// entry. On the publisher's loop, without s's lock.
func (l *loop) persistRouted(s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32) (seq, logSeq uint64) {
	seq = s.Seq.Add(1)
	q := sessions.Queued{Msg: msg, QoS: subQoS, Retain: retain, SubIDs: ids}
	st := l.n.cfg.Store
	if err := st.PutEntry(s.ClientID, seq, &q, sessions.StageQueued, true); l.n.stored(err) {
		logSeq = st.LastSeq()
	} else if l.refused == nil {
		l.refused = err
	}
	l.wrote = true
	return seq, logSeq
}

// adopt gives q, a QoS 1/2 delivery entering durable session s without a record, its sequence
// number and record. Hold s's lock.
func (l *loop) adopt(s *sessions.Session, q *sessions.Queued) {
	q.Seq = s.Seq.Add(1)
	st := l.n.cfg.Store
	if err := st.PutEntry(s.ClientID, q.Seq, q, sessions.StageQueued, true); l.n.stored(err) {
		q.LogSeq = st.LastSeq()
	} else if l.refused == nil {
		l.refused = err
	}
	l.wrote = true
}

// forget deletes the record of an entry leaving s (acknowledged or dropped); msg is the
// message it references, nil past PUBREC. Hold s's lock.
func (n *Node) forget(s *sessions.Session, seq uint64, msg *sessions.Message) {
	if seq != 0 && s.Durable.Load() {
		n.stored(n.cfg.Store.DeleteEntry(s.ClientID, seq, msg))
	}
}

// saveState writes the state record of s if it is durable. Hold s's lock.
func (n *Node) saveState(s *sessions.Session) {
	if s.Durable.Load() {
		n.stored(n.cfg.Store.PutSession(s.ClientID, sessions.StateOf(s)))
	}
}

// makeDurable writes everything s holds to the store and marks it durable. Entries already
// in flight keep their packet identifiers: each gets the next sequence number that derives
// to it. Hold s's lock.
func (n *Node) makeDurable(s *sessions.Session) {
	st := n.cfg.Store
	cid := s.ClientID
	n.stored(st.PutSession(cid, sessions.StateOf(s)))
	for _, sub := range s.Subs {
		n.stored(st.PutSub(cid, sub.Filter, sub.Options))
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
		n.stored(st.PutEntry(cid, f.Seq, &f.Queued, f.Stage, f.Msg != nil))
		return true
	})
	s.Queue.Update(func(q *sessions.Queued) {
		if q.QoS == 0 {
			return
		}
		q.Seq = s.Seq.Add(1)
		n.stored(st.PutEntry(cid, q.Seq, q, sessions.StageQueued, true))
	})
	s.Pending.Each(func(id uint16, _ int64) { n.stored(st.PutPending(cid, id)) })
	s.Durable.Store(true)
}

// dropRecords deletes every record of durable session s (the session ended, or is no longer
// persistent) and marks it not durable. Hold s's lock.
func (n *Node) dropRecords(s *sessions.Session) {
	if !s.Durable.Load() {
		return
	}
	st := n.cfg.Store
	cid := s.ClientID
	for _, sub := range s.Subs {
		n.stored(st.DeleteSub(cid, sub.Filter))
	}
	s.Window.Each(func(f *sessions.Inflight) bool {
		if f.Seq != 0 {
			n.stored(st.DeleteEntry(cid, f.Seq, f.Msg))
		}
		return true
	})
	s.Queue.Each(func(q sessions.Queued) bool {
		if q.Seq != 0 {
			n.stored(st.DeleteEntry(cid, q.Seq, q.Msg))
		}
		return true
	})
	s.Pending.Each(func(id uint16, _ int64) { n.stored(st.DeletePending(cid, id)) })
	n.stored(st.DeleteSession(cid))
	s.Durable.Store(false)
}

// loadStore fills the retained index and the persistent sessions from the store, in one pass
// over it. Called by Start before any listener accepts.
func (n *Node) loadStore() error {
	st := n.cfg.Store
	if st == nil {
		return nil
	}
	start := time.Now()
	now := start.UnixNano()
	var loaded, expired, refused int
	skipped := st.Skipped()
	var rewrite []*sessions.Session
	var maxSeq uint64
	qlimit := 0
	if len(n.cfg.Listeners) > 0 && n.cfg.Listeners[0].Zone != nil {
		qlimit = n.cfg.Listeners[0].Zone.MaxMqueueLen
	}
	var subErrs int
	ls, err := st.Load(func(topic string, m *sessions.Message) {
		if m.Expired(now) {
			expired++
			_ = st.DeleteRetained(topic) // Replay holds back the writer, not Put and Delete
			return
		}
		if err := n.retained.Set(topic, m, len(m.Payload)); err != nil {
			refused++
			return
		}
		loaded++
	}, func(ld *sessions.LoadedSession) {
		state := &ld.State
		s := sessions.New(ld.ClientID, state.Created)
		s.SeqBase = state.SeqBase
		s.Seq.Store(ld.MaxSeq)
		maxSeq = max(maxSeq, ld.MaxSeq)
		s.ExpiryInterval = state.ExpiryInterval
		s.StoreQoS0, s.UpgradeQoS = state.StoreQoS0, state.UpgradeQoS
		s.Durable.Store(true)
		for _, sub := range ld.Subs {
			s.Subscribe(sub.Filter, sub.Options)
			if _, err := n.subs.Subscribe(sub.Filter, s, sub.Options); err != nil {
				s.Unsubscribe(sub.Filter)
				subErrs++
			}
		}
		for _, e := range ld.Entries {
			if e.Stage == sessions.StageQueued {
				s.Queue.Push(e.Queued)
				continue
			}
			// Sent before the restart: sent again with DUP (PUBREL past PUBREC) on reconnect.
			s.Window.Add(sessions.Inflight{Queued: e.Queued, PacketID: sessions.PacketIDFor(e.Seq), Stage: e.Stage, SentAt: now})
		}
		s.Queue.SetLimit(qlimit)
		for _, id := range ld.Pending {
			s.Pending.Add(id, now)
		}
		s.ExpiresAt = state.ExpiresAt
		if s.ExpiresAt == 0 && s.ExpiryInterval != sessions.NeverExpire {
			// Online at the crash or stop: it expires its interval after the restart.
			s.ExpiresAt = now + int64(s.ExpiryInterval)*1e9
			rewrite = append(rewrite, s)
		}
		s.DelayedWill, s.WillAt = state.Will, state.WillAt
		n.reg.Update(s.ClientID, func(*sessions.Session) *sessions.Session { return s })
		n.reg.AddPersistent(1)
		if s.ExpiresAt != 0 {
			n.timers.add(s.ExpiresAt, s)
		}
		if s.DelayedWill != nil {
			n.timers.add(s.WillAt, s)
		}
	})
	if err != nil {
		return err
	}
	n.seqBase.Store((maxSeq>>32 + 1) << 32)
	for _, s := range rewrite {
		s.Lock()
		n.saveState(s)
		s.Unlock()
	}
	skipped = st.Skipped() - skipped
	d := time.Since(start).Round(time.Millisecond).String()
	args := []any{"count", loaded, "expired", expired, "duration", d}
	if refused > 0 {
		args = append(args, "refused_by_limits", refused)
	}
	if skipped > 0 {
		args = append(args, "undecodable", skipped)
		n.log.Warn("retained messages loaded; some stored records could not be decoded and were skipped", args...)
	} else {
		n.log.Info("retained messages loaded", args...)
	}
	sargs := []any{"sessions", ls.Sessions, "subscriptions", ls.Subs, "messages_queued_or_inflight", ls.Entries,
		"message_bodies", ls.Messages, "awaiting_pubrel", ls.Pending, "duration", d}
	if ls.Orphans > 0 || ls.Bad > 0 || subErrs > 0 {
		sargs = append(sargs, "unused_records_deleted", ls.Orphans, "bad_records_deleted", ls.Bad, "bad_filters", subErrs)
	}
	n.log.Info("persistent sessions loaded", sargs...)
	return nil
}
