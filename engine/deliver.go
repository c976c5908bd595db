package engine

import (
	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// route delivers msg to every matching subscription and returns how many sessions it went
// to. pub is the publishing session (nil for messages the broker publishes), for No Local.
// Runs on loop l (or the side loop with its mutex held).
func (l *loop) route(msg *sessions.Message, pub *sessions.Session, z *Zone) int {
	n := l.n
	m := &l.matches
	if pub != nil {
		m.ResetFor(pub)
	} else {
		m.Reset()
	}
	n.subs.Match(msg.Topic, m)
	count := 0
	ignoreLoop := z != nil && z.IgnoreLoopDeliver
	for i := range m.Subscribers {
		sm := &m.Subscribers[i]
		s := sm.Handle
		if ignoreLoop && s == pub {
			continue
		}
		l.ids = m.SubscriptionIDs(i, l.ids[:0])
		l.deliverTo(s, msg, sm.QoS, sm.RetainAsPublished && msg.Retain, l.ids)
		count++
	}
	for _, g := range m.Groups {
		mem, ok := n.pick(g, msg)
		if !ok {
			continue
		}
		l.ids = l.ids[:0]
		if mem.Options.SubID != 0 {
			l.ids = append(l.ids, mem.Options.SubID)
		}
		l.deliverTo(mem.Handle, msg, mem.Options.QoS, mem.Options.RetainAsPublished && msg.Retain, l.ids)
		count++
	}
	l.stats.Routed += uint64(count)
	return count
}

// deliverTo hands msg to session s at the subscription's QoS. ids is scratch owned by the
// caller: it is copied if the message has to travel or wait.
//
// A session owned by another loop is not touched here: the delivery joins that loop's batch
// and the owner applies it, so cross-loop fan-out takes no session lock on the publisher's
// loop and the owner's lock stays uncontended.
//
// A QoS 1/2 delivery to a durable session takes its sequence number and writes its record
// here, on the publisher's loop, so that the publisher's acknowledgement can wait for every
// write its message caused (see durable_store.go).
func (l *loop) deliverTo(s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32) {
	var seq, logSeq uint64
	if msg.QoS > 0 && subQoS > 0 && s.Durable.Load() {
		seq, logSeq = l.n.dur.routed(&l.writes, s, msg, subQoS, retain, ids)
	}
	home := int(s.Home.Load())
	if home >= 0 && home != l.idx {
		l.push(home, delivery{s: s, msg: msg, subQoS: subQoS, retain: retain, ids: ownIDs(ids), seq: seq, logSeq: logSeq})
		return
	}
	if home == homeInternal {
		l.deliverInternal(s, msg, subQoS, retain)
		return
	}
	s.Lock()
	l.apply(s, msg, subQoS, retain, ids, seq, logSeq)
	s.Unlock()
}

// apply delivers to s with its lock held: written now when s's connection is on this loop,
// forwarded when another loop owns it, queued when s is offline.
func (l *loop) apply(s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool, ids []uint32, seq, logSeq uint64) {
	if seq != 0 && (s.Gone || !s.Durable.Load()) {
		// Stored on the way, but the session ended or stopped being durable meanwhile.
		l.n.dur.forgotten(s, seq, msg)
		seq, logSeq = 0, 0
	}
	if s.Gone {
		if l.n.relays.count.Load() > 0 { // handed over to another node: relayed there (peer_relay.go)
			l.relayed(s, msg, subQoS, retain, ids)
		}
		return
	}
	c, _ := s.Owner.(*conn)
	switch {
	case c != nil && c.loop == l:
		if msg == nil {
			c.drain()
			return
		}
		qos := min(msg.QoS, subQoS)
		if c.lis.Zone.UpgradeQoS {
			qos = subQoS
		}
		q := sessions.Queued{Msg: msg, QoS: qos, Retain: retain, SubIDs: ids, Seq: seq, LogSeq: logSeq}
		if c.state == stateConnected {
			c.send(q)
		} else {
			q.SubIDs = ownIDs(ids)
			l.enqueue(s, q, true)
		}
	case c != nil:
		l.push(c.loop.idx, delivery{s: s, msg: msg, subQoS: subQoS, retain: retain, ids: ownIDs(ids), seq: seq, logSeq: logSeq})
	case msg != nil:
		qos := min(msg.QoS, subQoS)
		if s.UpgradeQoS {
			qos = subQoS
		}
		l.enqueue(s, sessions.Queued{Msg: msg, QoS: qos, Retain: retain, SubIDs: ownIDs(ids), Seq: seq, LogSeq: logSeq}, false)
	}
}

func ownIDs(ids []uint32) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	return append([]uint32(nil), ids...)
}

// enqueue puts q in s's queue, applying the offline QoS 0 policy and counting drops.
// Hold s's lock.
func (l *loop) enqueue(s *sessions.Session, q sessions.Queued, online bool) {
	if !online && q.QoS == 0 {
		if !s.StoreQoS0 {
			l.stats.Dropped++
			l.dropped(s.ClientID, q.Msg, DropQoS0Offline)
			return
		}
	}
	if !online {
		// It may wait for hours: not in another node's frame's slab (sessions.Detach).
		if cp := q.Msg.Detach(); cp != q.Msg {
			q.Msg = cp
			defer cp.Release() // the queue holds its own
		}
	}
	if q.QoS > 0 && q.Seq == 0 && s.Durable.Load() {
		q = l.n.dur.adopt(&l.writes, s, q)
	}
	if old, dropped := s.Queue.Push(q); dropped {
		l.stats.Dropped++
		l.stats.QueueDropped++
		if old.QoS == 2 {
			l.stats.Qos2Dropped++
		}
		l.dropped(s.ClientID, old.Msg, DropQueueFull)
		l.n.forget(s, old.Seq, old.Msg)
		old.Msg.Release()
	}
}

// send delivers q on the owner loop: written now if the window and the socket allow,
// otherwise queued. Hold the session lock.
func (c *conn) send(q sessions.Queued) {
	s := c.sess
	if q.QoS > 0 && q.Seq == 0 && s.Durable.Load() {
		q.SubIDs = ownIDs(q.SubIDs)
		q = c.loop.n.dur.adopt(&c.loop.writes, s, q)
	}
	if s.Queue.Len() > 0 {
		q.SubIDs = ownIDs(q.SubIDs) // the caller's slice may be scratch
		c.loop.enqueue(s, q, true)
		c.checkQueueBound() // force_shutdown_policy (forceshutdown.go)
		c.drain()
		return
	}
	if !c.trySend(q) {
		q.SubIDs = ownIDs(q.SubIDs)
		c.loop.enqueue(s, q, true)
		c.checkQueueBound()
	}
}

// trySend writes q if possible and reports whether q was consumed (written or dropped).
// Hold the session lock.
func (c *conn) trySend(q sessions.Queued) bool {
	l := c.loop
	if q.Msg.Expired(l.now) {
		l.stats.Expired++
		l.dropped(c.clientID, q.Msg, DropExpired)
		l.n.forget(c.sess, q.Seq, q.Msg)
		return true
	}
	pending := c.pending()
	if pending > c.lis.Zone.CloseWater && c.lis.Zone.CloseWater > 0 {
		l.stats.SlowClosed++
		c.closeWith(codec.QuotaExceeded, "slow consumer: output backlog over the limit (force_shutdown_policy bytes)")
		// A stored delivery stays with its session for the next connection.
		return q.Seq == 0 || !c.sess.Durable.Load()
	}
	slow := pending > c.lis.Zone.HighWater && c.lis.Zone.HighWater > 0
	if slow {
		c.markSlow()
	}
	if q.QoS == 0 {
		if slow {
			l.stats.Dropped++
			l.stats.SlowDropped++
			l.dropped(c.clientID, q.Msg, DropSlowConsumer)
			return true
		}
		c.writePublish(q, 0, false)
		return true
	}
	s := c.sess
	if slow || s.Window.Full() {
		return false
	}
	if q.LogSeq != 0 && !l.n.dur.durable(q.LogSeq) {
		// Its record is not durable yet: sent now, a crash could lose the record while the
		// client keeps the packet identifier (awaiting PUBREL for QoS 2), and a later message
		// with the same identifier would then be taken for a duplicate. It waits, in order.
		c.waitDurable()
		return false
	}
	var id uint16
	if q.Seq != 0 {
		// Derived from the sequence number; an older message still holding it goes first.
		if id = sessions.PacketIDFor(q.Seq); s.Window.InUse(id) {
			return false
		}
	} else if id = s.IDs.Next(&s.Window); id == 0 {
		return false
	}
	s.Window.Add(sessions.Inflight{Queued: q, PacketID: id, Stage: stageFor(q.QoS), SentAt: l.now})
	if q.Seq != 0 && s.Durable.Load() {
		// Sent: after a restart it goes again with DUP.
		l.n.dur.sent(s, q)
	}
	c.writePublish(q, id, false)
	return true
}

func stageFor(qos uint8) sessions.Stage {
	if qos == 2 {
		return sessions.AwaitPubrec
	}
	return sessions.AwaitPuback
}

// drain sends queued messages while the window and the socket allow. Hold the session lock.
func (c *conn) drain() {
	if c.state != stateConnected {
		return
	}
	s := c.sess
	for {
		q, ok := s.Queue.Peek()
		if !ok {
			return
		}
		if !c.trySend(q) {
			return
		}
		s.Queue.Pop()
		q.Msg.Release() // the queue's hold; the window took its own if it keeps the message
		if c.state != stateConnected {
			return
		}
	}
}

// resume runs after CONNACK on a session that existed: inflight messages are sent again with
// DUP set (PUBREL for those past PUBREC) [MQTT-4.4.0-1], then the queue drains. Hold the
// session lock.
func (c *conn) resume() {
	s := c.sess
	l := c.loop
	// Collected first: writePublish may remove an entry (larger than the client now accepts).
	var again []sessions.Inflight
	s.Window.Each(func(f *sessions.Inflight) bool {
		f.SentAt = l.now
		if f.Stage != sessions.AwaitPubcomp && f.Msg.Expired(l.now) && c.version == codec.V5 {
			// Expired while the client was away: MQTT 5 lets it go; the window slot is freed
			// below.
			return true
		}
		again = append(again, *f)
		return true
	})
	for _, f := range again {
		if f.Stage == sessions.AwaitPubcomp {
			c.sendAck(codec.TypePubrel, f.PacketID, codec.Success, "")
			continue
		}
		c.writePublish(f.Queued, f.PacketID, true)
	}
	if c.version == codec.V5 {
		var expired []uint16
		s.Window.Each(func(f *sessions.Inflight) bool {
			if f.Stage != sessions.AwaitPubcomp && f.Msg.Expired(l.now) {
				expired = append(expired, f.PacketID)
			}
			return true
		})
		for _, id := range expired {
			if f, ok := s.Window.Remove(id); ok {
				l.dropped(s.ClientID, f.Msg, DropExpired)
				l.n.forget(s, f.Seq, f.Msg)
				f.Msg.Release()
			}
			l.stats.Expired++
		}
	}
	c.drain()
}

// writePublish encodes one delivery. Messages larger than the client's Maximum Packet Size
// are dropped and counted [MQTT-3.1.2-25].
func (c *conn) writePublish(q sessions.Queued, id uint16, dup bool) {
	l := c.loop
	msg := q.Msg
	topic := msg.Topic
	if mp := c.lis.Zone.Mountpoint; mp != "" {
		topic = c.unmount(topic)
	}
	p := &l.outPub
	p.Reset()
	p.Dup, p.QoS, p.Retain, p.PacketID, p.Topic, p.Payload = dup, q.QoS, q.Retain, id, topic, msg.Payload
	if c.version == codec.V5 {
		ids := p.Props.SubscriptionIDs[:0]
		if msg.Props != nil {
			p.Props = *msg.Props
		}
		p.Props.SubscriptionIDs = append(ids, q.SubIDs...)
		if left, ok := msg.RemainingExpiry(l.now); ok {
			p.Props.SetMessageExpiry(left)
		}
	}
	var alias uint16
	var omit bool
	oa := c.outAliasesOf() // nil unless the client accepts topic aliases (outalias.go)
	if oa != nil {
		alias, omit = oa.plan(topic)
	}
	b := c.buf()
	start := len(b)
	large := len(msg.Payload) >= writevThreshold
	if large {
		// Header only: the shared payload goes to the socket by reference (writev).
		ids := p.Props.SubscriptionIDs
		p.Props.SubscriptionIDs = nil
		var props *codec.Properties
		if c.version == codec.V5 {
			props = &p.Props
		}
		l.hdr.Prepare(topic, props, len(msg.Payload))
		p.Props.SubscriptionIDs = ids
		b = l.hdr.AppendTo(b, codec.Delivery{Version: c.version, QoS: q.QoS, Dup: dup, Retain: q.Retain, PacketID: id, SubscriptionIDs: ids, TopicAlias: alias, OmitTopic: omit})
	} else {
		if alias != 0 {
			p.Props.SetTopicAlias(alias)
			if omit {
				p.Topic = nil
			}
		}
		b = codec.AppendPublish(b, p, c.version)
	}
	p.Props.User = nil // shared with the message: never let a later Reset reuse it
	size := len(b) - start
	if large {
		size += len(msg.Payload)
	}
	if c.clientMaxPacket > 0 && size > int(c.clientMaxPacket) {
		c.write(b[:start])
		c.cnt.SendPkt-- // nothing was appended
		l.stats.Dropped++
		l.stats.TooLarge++
		l.dropped(c.clientID, msg, DropTooLarge)
		if id != 0 {
			if f, ok := c.sess.Window.Remove(id); ok { // as if delivered [MQTT-3.1.2-25]
				l.n.forget(c.sess, f.Seq, f.Msg)
				f.Msg.Release()
			}
		}
		return
	}
	if large {
		c.writeRef(b, msg)
	} else {
		c.write(b)
	}
	if alias != 0 {
		oa.commit(topic, alias, omit)
	}
	l.stats.PublishOut++
	l.stats.QosOut[q.QoS&3]++
	c.cnt.SendMsg++
	if l.stats.DeliverySample++; l.stats.DeliverySample&deliverySampleMask == 0 && !dup && !q.Retain {
		l.stats.DeliveryTime.observe(l.now - msg.Created)
	}
	if h := l.hooks; h != nil {
		for _, f := range h.delivered {
			f(c.clientID, msg, q.QoS)
		}
	}
}

// unmount strips the zone's mountpoint from a topic before it goes to a client of that zone.
// It compares the mountpoint template piece by piece (%c and %u expanded in place), so a
// delivery allocates nothing.
func (c *conn) unmount(topic []byte) []byte {
	mp := c.lis.Zone.Mountpoint
	rest := topic
	for i := 0; i < len(mp); i++ {
		piece := mp[i : i+1]
		if mp[i] == '%' && i+1 < len(mp) && (mp[i+1] == 'c' || mp[i+1] == 'u') {
			if mp[i+1] == 'c' {
				piece = c.clientID
			} else {
				piece = c.username
			}
			i++
		}
		if len(rest) < len(piece) || string(rest[:len(piece)]) != piece {
			return topic // not under this client's mountpoint: sent as is
		}
		rest = rest[len(piece):]
	}
	return rest
}

// handleAck processes PUBACK, PUBREC, PUBREL and PUBCOMP from the client.
func (c *conn) handleAck(t codec.PacketType, pkt []byte) error {
	l := c.loop
	a := &l.ack
	if err := a.Decode(pkt, c.version); err != nil {
		return err
	}
	id := a.PacketID
	l.stats.AcksIn[t-codec.TypePuback]++
	s := c.sess
	s.Lock()
	defer s.Unlock()
	if s.Owner != c {
		return nil // taken over meanwhile
	}
	switch t {
	case codec.TypePuback:
		if f := s.Window.Find(id); f != nil && f.Stage == sessions.AwaitPuback {
			f, _ := s.Window.Remove(id)
			l.acked(c.clientID, f.Msg)
			l.n.forget(s, f.Seq, f.Msg)
			f.Msg.Release()
		} else {
			l.stats.AcksMissed[0]++
		}
	case codec.TypePubrec:
		f := s.Window.Find(id)
		switch {
		case f == nil || f.Stage == sessions.AwaitPuback:
			l.stats.AcksMissed[1]++
			c.sendAck(codec.TypePubrel, id, codec.PacketIdentifierNotFound, "")
		case a.Code >= 0x80:
			f, _ := s.Window.Remove(id) // the receiver refused it: the flow ends [MQTT-4.3.3-?]
			l.n.forget(s, f.Seq, f.Msg)
			f.Msg.Release()
		default:
			msg := f.Msg
			l.acked(c.clientID, msg)
			f.Stage = sessions.AwaitPubcomp
			f.Msg = nil
			f.SentAt = l.now
			if f.Seq != 0 && s.Durable.Load() {
				// The body is released after the stage change (see durable_store.go). PUBREL
				// waits until the stage change is durable: once the receiver has PUBREL it
				// forgets the packet identifier, so a PUBLISH resent after a crash that lost the
				// stage change would be a second delivery.
				ok := l.n.dur.pubrecReceived(s, f, msg)
				msg.Release() // the window's hold
				if ok {
					c.ackDurable(codec.TypePubrel, id, codec.Success, nil)
					break
				}
			} else {
				msg.Release() // the window's hold
			}
			c.sendAck(codec.TypePubrel, id, codec.Success, "")
		}
	case codec.TypePubrel:
		if s.Pending.Remove(id) {
			if s.Durable.Load() {
				// PUBCOMP once the deletion is durable: the client may reuse the identifier.
				l.n.dur.pendingRemoved(s, id)
				c.ackDurable(codec.TypePubcomp, id, codec.Success, nil)
			} else {
				c.sendAck(codec.TypePubcomp, id, codec.Success, "")
			}
		} else {
			l.stats.AcksMissed[2]++
			c.sendAck(codec.TypePubcomp, id, codec.PacketIdentifierNotFound, "")
		}
	case codec.TypePubcomp:
		if f := s.Window.Find(id); f != nil && f.Stage == sessions.AwaitPubcomp {
			f, _ := s.Window.Remove(id)
			l.n.forget(s, f.Seq, nil)
		} else {
			l.stats.AcksMissed[3]++
		}
	}
	c.drain()
	return nil
}

// sessionTick is the connection's share of the loop sweep: QoS 2 identifiers awaiting PUBREL
// past await_rel_timeout are forgotten, and for MQTT 3.x messages unacknowledged for
// retry_interval are sent again (MQTT 5 forbids retransmission on a live connection
// [MQTT-4.4.0-1]), and output resumes if the socket drained.
func (c *conn) sessionTick() {
	l := c.loop
	s := c.sess
	z := c.lis.Zone
	if !s.TryLock() {
		return // busy elsewhere this instant; next sweep
	}
	defer s.Unlock()
	if s.Owner != c {
		return
	}
	if z.AwaitRelTimeout > 0 && s.Pending.Len() > 0 {
		before := l.now - int64(z.AwaitRelTimeout)
		var k int
		if s.Durable.Load() {
			k = s.Pending.ExpireEach(before, func(id uint16) { l.n.dur.pendingRemoved(s, id) })
		} else {
			k = s.Pending.Expire(before)
		}
		if k > 0 {
			l.stats.AwaitRelExpired += uint64(k)
		}
	}
	if c.version != codec.V5 && z.RetryInterval > 0 && s.Window.Len() > 0 {
		limit := l.now - int64(z.RetryInterval)
		s.Window.Each(func(f *sessions.Inflight) bool {
			if f.SentAt > limit {
				return true
			}
			f.SentAt = l.now
			l.stats.Retries++
			if f.Stage == sessions.AwaitPubcomp {
				c.sendAck(codec.TypePubrel, f.PacketID, codec.Success, "")
			} else {
				c.writePublish(f.Queued, f.PacketID, true)
			}
			return true
		})
	}
	if s.Queue.Len() > 0 {
		c.drain()
	}
}

// pick chooses the member of shared group g that receives msg, by the configured strategy.
// When every member is offline one is still picked and the message queued in its session,
// as the EMQX guide says.
func (n *Node) pick(g *trie.Group[*sessions.Session], msg *sessions.Message) (trie.Member[*sessions.Session], bool) {
	members := g.Members()
	if len(members) == 0 {
		return trie.Member[*sessions.Session]{}, false
	}
	if len(members) == 1 {
		return members[0], true
	}
	var i int
	switch n.cfg.SharedStrategy {
	case "round_robin":
		i = int(g.Cursor.Add(1) % uint64(len(members)))
	case "sticky":
		// Keep the last member while it is online; move on when it goes away.
		cur := g.Cursor.Load()
		i = int(cur % uint64(len(members)))
		if !online(members[i].Handle) {
			for k := 1; k < len(members); k++ {
				j := (i + k) % len(members)
				if online(members[j].Handle) {
					i = j
					g.Cursor.Store(uint64(j))
					break
				}
			}
		}
	case "hash": // of the publisher's client id (EMQX hash / hash_clientid)
		i = int(hashString(msg.From) % uint64(len(members)))
	case "hash_topic":
		i = int(hashBytes(msg.Topic) % uint64(len(members)))
	default: // random
		i = int(fastrand() % uint64(len(members)))
	}
	return members[i], true
}

func online(s *sessions.Session) bool {
	s.Lock()
	ok := s.Owner != nil
	s.Unlock()
	return ok
}
