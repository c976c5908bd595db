package engine

import (
	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/sessions"
)

// handlePublish handles an inbound PUBLISH: topic alias, limits, ACL, exactly-once
// bookkeeping for QoS 2, retained store, routing and the acknowledgement.
//
// Everything up to the access decision has no side effect but the topic alias (set again to
// the same value), so that a packet parked for the access-control chain (errParked) can be
// handled again from the start.
func (c *conn) handlePublish(pkt []byte) error {
	l := c.loop
	n := l.n
	z := c.lis.Zone
	p := &l.publish
	if err := p.Decode(pkt, c.version); err != nil {
		return err
	}
	if c.version == codec.V5 {
		if err := p.ValidateFromClient(z.MaxTopicAlias); err != nil {
			return err // subscription identifier from a client, alias above the maximum
		}
	}
	if z.StrictMode && len(p.Topic) > 0 {
		// An alias-only PUBLISH (empty topic) reuses a topic checked when it was set.
		if err := codec.StrictUTF8(p.Topic); err != nil {
			return &codec.Error{Code: codec.TopicNameInvalid, Reason: "PUBLISH topic name: " + err.Error()}
		}
	}
	topic := p.Topic
	if c.version == codec.V5 && p.Props.Has(codec.PropTopicAlias) {
		a := p.Props.TopicAlias
		if a == 0 || a > z.MaxTopicAlias {
			return errTopicAlias // [MQTT-3.3.2-9]
		}
		if len(topic) > 0 {
			x := c.extra()
			if x.aliases == nil {
				x.aliases = make(map[uint16][]byte)
			}
			old := x.aliases[a]
			x.aliases[a] = append(old[:0], topic...)
		} else if t, ok := c.alias(a); ok {
			topic = t
		} else {
			return errTopicAliasUnset
		}
	}
	if rw := n.cfg.RewritePublish; rw != nil {
		var err error
		if topic, err = rewriteTopic(rw, topic); err != nil {
			return err
		}
	}
	if z.Mountpoint != "" {
		topic = n.mount(z, c, topic)
	}
	access := n.authorize(c, acl.Publish, topic)
	if access == aclPending {
		if c.parkACL([]aclDecision{{access: acl.Publish, topic: string(topic)}}) {
			return errParked
		}
		err := c.handlePublish(pkt) // denied at once: the side pool is full
		c.ext.decided = nil
		return err
	}
	l.stats.PublishIn++
	c.cnt.RecvMsg++
	l.stats.QosIn[p.QoS&3]++

	if tooDeep(topic, z.topicLevelLimit()) {
		return z.topicLevelsError()
	}
	if p.QoS > z.MaxQoSAllowed {
		return errQoSNotSupported // [MQTT-3.2.2-11]
	}
	if p.Retain && !z.RetainAvailable {
		return errRetainNotAllowed // [MQTT-3.2.2-14]
	}
	if c.version == codec.V5 && p.Props.Has(codec.PropPayloadFormat) && p.Props.PayloadFormat == 1 && codec.ValidUTF8String(p.Payload) != nil {
		// The payload claims to be UTF-8 and is not [MQTT-3.3.2-4]: refuse it.
		l.stats.Dropped++
		c.droppedAtPublish(p, topic, DropPayloadFormat)
		if p.QoS > 0 {
			c.sendAck(ackType(p.QoS), p.PacketID, codec.PayloadFormatInvalid, "payload is not valid UTF-8")
			return nil
		}
		return &codec.Error{Code: codec.PayloadFormatInvalid, Reason: "payload is not valid UTF-8 although its payload format indicator says so [MQTT-3.3.2-4]"}
	}

	s := c.sess
	if p.QoS == 2 {
		s.Lock()
		dup := s.Pending.Has(p.PacketID)
		full := !dup && z.MaxAwaitingRel > 0 && s.Pending.Len() >= z.MaxAwaitingRel
		if !dup && !full {
			s.Pending.Add(p.PacketID, l.now)
		}
		s.Unlock()
		if dup {
			// A retransmission of a message already routed: acknowledge again, route nothing
			// [MQTT-4.3.3-9].
			if c.held > 0 {
				c.ackDurable(codec.TypePubrec, p.PacketID, codec.Success, nil)
				return nil
			}
			c.sendAck(codec.TypePubrec, p.PacketID, codec.Success, "")
			return nil
		}
		if full {
			l.stats.Dropped++
			l.stats.Qos2Dropped++
			c.droppedAtPublish(p, topic, DropAwaitingRel)
			return errReceiveMax
		}
	}

	if access == aclDeny {
		l.stats.AclDenied++
		l.stats.Dropped++
		c.droppedAtPublish(p, topic, DropNotAuthorized)
		if z.ACLDenyAction == "disconnect" {
			c.closeWith(codec.NotAuthorized, "publish to "+string(topic)+" denied by ACL")
			return nil
		}
		switch p.QoS {
		case 1:
			c.sendAck(codec.TypePuback, p.PacketID, codec.NotAuthorized, "publish denied by ACL")
		case 2:
			c.sendAck(codec.TypePubrec, p.PacketID, codec.NotAuthorized, "publish denied by ACL")
			s.Lock()
			s.Pending.Remove(p.PacketID) // the flow ends with the error code [MQTT-4.3.3-?]
			s.Unlock()
		}
		return nil
	}

	if p.QoS > 0 && n.storeHint.Load() && n.dur.down() && l.needsDurability(topic, p.Retain) {
		c.refuseUndurable(ackType(p.QoS), p.PacketID, errStoreDown)
		c.droppedAtPublish(p, topic, DropStoreRefused)
		return nil
	}
	// Pooled: whoever keeps it beyond this call holds or pins it (see NewPooledMessage).
	msg := sessions.NewPooledMessage(p, topic, c.clientID, l.now)
	w := &l.writes
	*w = publishWrites{}
	if p.Retain {
		if err := n.retain(l, msg, p.QoS > 0); err != nil {
			// The store refused the retained message: refused as a whole, routed nowhere,
			// so that the publisher's retransmission is no duplicate.
			msg.Release()
			c.refuseStored(ackType(p.QoS), p.PacketID, err)
			c.droppedAtPublish(p, topic, DropStoreRefused)
			return nil
		}
	}
	mark := len(l.internal)
	matched := l.route(msg, s, z)
	l.published(msg, matched)
	msg.Release()
	if p.QoS == 2 && s.Durable.Load() && w.refused == nil {
		// After the deliveries' records: a durable 'p' implies durable deliveries.
		n.dur.pendingAdded(w, s, p.PacketID)
	}
	if p.QoS > 0 && w.refused != nil {
		// A delivery's record (or 'p') was refused: the deliveries made stay in memory, but
		// the publisher must not take the message for durable.
		c.refuseStored(ackType(p.QoS), p.PacketID, w.refused)
		return nil
	}
	code := codec.Success
	if matched == 0 {
		l.stats.NoSubscribers++
		if c.version == codec.V5 {
			code = codec.NoMatchingSubscribers
		}
	}
	if p.QoS > 0 && (w.wrote || c.held > 0 || durableInternal(l.internal[mark:])) {
		// The retained message or the stored deliveries must be on disk first, or a durable
		// internal subscriber must keep the message (or an earlier acknowledgement waits).
		c.ackAfter(ackType(p.QoS), p.PacketID, code, nil, l.internal[mark:])
		return nil
	}
	switch p.QoS {
	case 1:
		c.sendAck(codec.TypePuback, p.PacketID, code, "")
	case 2:
		c.sendAck(codec.TypePubrec, p.PacketID, code, "")
	}
	return nil
}

var slash = []byte{'/'}

// droppedAtPublish reports a PUBLISH refused before it became a message to the MessageDropped
// hooks (building the message only when one listens).
func (c *conn) droppedAtPublish(p *codec.Publish, topic []byte, cause DropCause) {
	l := c.loop
	if h := l.hooks; h != nil && len(h.dropped) > 0 {
		l.dropped(c.clientID, sessions.NewMessage(p, topic, c.clientID, l.now), cause)
	}
}

func ackType(qos uint8) codec.PacketType {
	if qos == 2 {
		return codec.TypePubrec
	}
	return codec.TypePuback
}

// sendAck writes a PUBACK, PUBREC, PUBREL or PUBCOMP. The reason string is sent only to MQTT 5
// clients that did not turn problem information off.
func (c *conn) sendAck(t codec.PacketType, id uint16, code codec.ReasonCode, why string) {
	a := &c.loop.ack
	a.Reset()
	a.Type, a.PacketID, a.Code = t, id, code
	if c.version == codec.V5 && why != "" && c.has(flagProblemInfo) {
		a.Props.SetReasonString([]byte(why))
	}
	b := c.buf()
	start := len(b)
	b = codec.AppendAck(b, a, c.version)
	if c.clientMaxPacket > 0 && len(b)-start > int(c.clientMaxPacket) {
		// The reason string goes when it would exceed the client's maximum [MQTT-3.4.2-2].
		a.Props.Clear(codec.PropReasonString)
		b = codec.AppendAck(b[:start], a, c.version)
	}
	c.write(b)
	c.loop.stats.AcksOut[t-codec.TypePuback]++
}

// retain stores or deletes (empty payload) the retained message of msg's topic, in memory
// and in the durable store when there is one; a write the store accepted is noted in
// l.writes (a following commit covers it), when l is not nil. With refusable (a QoS 1/2 publish whose
// acknowledgement can say no), a write the store refuses is undone in memory and its error
// returned; otherwise the message stays in memory only (counted, as every refused write).
//
// Undoing puts back the message retained before; a retained publish to the same topic on
// another loop at the same instant may be overwritten by it in memory (not in the store).
func (n *Node) retain(l *loop, msg *sessions.Message, refusable bool) error {
	topic := string(msg.Topic)
	var old *sessions.Message
	var had bool
	if refusable && n.hasStore {
		old, had = n.retained.Get(topic)
	}
	if len(msg.Payload) == 0 {
		n.retained.Delete(topic) // [MQTT-3.3.1-6] [MQTT-3.3.1-7]
		msg = nil
	} else {
		if n.cfg.RetainerExpiry > 0 && msg.Expiry == 0 {
			// The retainer's expiry applies to retained copies without their own expiry.
			cp := msg.Share()
			cp.Expiry = msg.Created + n.cfg.RetainerExpiry*1e9
			msg = cp
		} else {
			msg.Pin() // the retained index keeps it
		}
		if err := n.retained.Set(topic, msg, len(msg.Payload)); err != nil {
			n.stats.retainRefused.Add(1)
			n.log.Warn("retained message not stored", "topic", topic, "client", msg.From, "cause", err)
			return nil
		}
	}
	if accepted, err := n.dur.retained(topic, msg); err != nil && refusable {
		if had {
			_ = n.retained.Set(topic, old, len(old.Payload))
		} else {
			n.retained.Delete(topic)
		}
		return err
	} else if accepted && l != nil {
		l.writes.wrote = true
	}
	if msg != nil {
		n.stats.retained.Add(1)
	}
	return nil
}
