package engine

import (
	"time"

	"github.com/emqgo/emqgo/sessions"
)

// load fills the retained index and the persistent sessions from the store, in one pass
// over it. Called by Start before any listener accepts.
func (d *storeDurability) load() error {
	n, st := d.n, d.st
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
			if _, err := n.indexSubscribe(sub.Filter, s, sub.Options); err != nil {
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
	d.seqBase.Store((maxSeq>>32 + 1) << 32)
	for _, s := range rewrite {
		s.Lock()
		d.sessionState(s)
		s.Unlock()
	}
	skipped = st.Skipped() - skipped
	took := time.Since(start).Round(time.Millisecond).String()
	args := []any{"count", loaded, "expired", expired, "duration", took}
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
		"message_bodies", ls.Messages, "awaiting_pubrel", ls.Pending, "duration", took}
	if ls.Orphans > 0 || ls.Bad > 0 || subErrs > 0 {
		sargs = append(sargs, "unused_records_deleted", ls.Orphans, "bad_records_deleted", ls.Bad, "bad_filters", subErrs)
	}
	n.log.Info("persistent sessions loaded", sargs...)
	return nil
}
