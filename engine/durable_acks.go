package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// ackDurable sends a PUBACK or PUBREC once every write the store accepted so far (the
// retained message of this publish among them) is durable, so that an acknowledged retained
// message survives a crash. While such an acknowledgement is held, later ones of the same
// connection queue behind it (c's held list, sent in order), which keeps acknowledgements in
// the order of the publishes. Called on c's loop; the loop never waits.
//
// The acknowledgements a commit releases go back to the loop in one batch (one task, one write
// per connection), not one task and one write each.
//
// refuse non-nil turns the acknowledgement into a refusal (refuseUndurable) once the earlier
// ones went: a write this publish needed was refused by the store.
func (c *conn) ackDurable(t codec.PacketType, id uint16, code codec.ReasonCode, refuse error) {
	c.ackAfter(t, id, code, refuse, nil)
}

// ackAfter is ackDurable that also waits for the durable internal subscribers among ds (this
// publish's deliveries of the round, not yet handed over): each of their QoS 1/2 deliveries
// carries the acknowledgement, released when the subscriber has kept the message
// (SubscriberOptions.Commit, internal_durable.go).
func (c *conn) ackAfter(t codec.PacketType, id uint16, code codec.ReasonCode, refuse error, ds []internalDelivery) {
	h := &heldAck{c: c, t: t, id: id, code: code}
	if refuse != nil {
		h.err.Store(&refuse)
	}
	waits := int32(1) // the store's commit
	for i := range ds {
		if x := &ds[i]; x.d.QoS > 0 && x.sub.opts.Commit != nil {
			x.d.wait = h
			waits++
		}
	}
	h.left.Store(waits)
	q := &c.extra().held
	if q.tail == nil {
		q.head = h
	} else {
		q.tail.next = h
	}
	q.tail = h
	c.held++
	c.loop.n.dur.commit(h.done)
}

// heldAck is an acknowledgement that waits for the durable store and, for a publish
// delivered to durable internal subscribers, for them.
type heldAck struct {
	c    *conn
	t    codec.PacketType
	id   uint16
	code codec.ReasonCode
	left atomic.Int32          // waits not completed
	err  atomic.Pointer[error] // the first failure: refuse instead
	// On c's loop only:
	ready bool     // every wait completed
	next  *heldAck // the next in c's held list
}

// heldQueue is a connection's held acknowledgements, in the order they must go.
type heldQueue struct{ head, tail *heldAck }

// done completes one of h's waits (err non-nil: it failed). The last one hands h back to its
// loop, in one batch with the others that completed meanwhile. Any goroutine.
func (h *heldAck) done(err error) {
	if err != nil {
		h.err.CompareAndSwap(nil, &err)
	}
	if h.left.Add(-1) != 0 {
		return
	}
	l := h.c.loop
	l.durMu.Lock()
	l.durAcks = append(l.durAcks, h)
	schedule := !l.durScheduled
	l.durScheduled = true
	l.durMu.Unlock()
	if !schedule {
		return
	}
	if xerr := l.el.Execute(context.Background(), l.durTask); xerr != nil {
		l.n.log.Debug("acknowledgements dropped: engine stopping", "loop", l.idx)
	}
}

// sendDurableAcks runs on the loop: it sends, per connection and in order, every held
// acknowledgement whose waits completed and that no earlier one still holds back.
func (l *loop) sendDurableAcks() {
	l.durMu.Lock()
	batch := l.durAcks
	l.durAcks = l.durSpare[:0]
	l.durScheduled = false
	l.durMu.Unlock()
	l.begin()
	for i, h := range batch {
		h.ready = true
		c := h.c
		q := &c.ext.held
		for q.head != nil && q.head.ready {
			a := q.head
			q.head = a.next
			if q.head == nil {
				q.tail = nil
			}
			a.next = nil
			c.held--
			if c.state != stateConnected {
				continue
			}
			if e := a.err.Load(); e != nil && (a.t == codec.TypePuback || a.t == codec.TypePubrec) {
				// Not durable: refuse it, so that the publisher keeps the message. (PUBREL and
				// PUBCOMP have no failure code to give; the flow goes on from memory.)
				c.refuseUndurable(a.t, a.id, *e)
			} else {
				c.sendAck(a.t, a.id, a.code, "")
			}
		}
		batch[i] = nil
	}
	l.durSpare = batch[:0]
	l.end()
}

// waitDurable arranges for the connection's queue to drain again once the store has made
// durable everything written so far (at most one pending Commit per connection). On a store
// error it tries again a second later, when the store may have recovered.
func (c *conn) waitDurable() {
	if c.has(flagWaitDurable) {
		return
	}
	c.set(flagWaitDurable)
	l := c.loop
	run := runFunc(func() {
		l.begin()
		c.unset(flagWaitDurable)
		if c.state == stateConnected {
			s := c.sess
			s.Lock()
			if s.Owner == c {
				c.drain()
			}
			s.Unlock()
		}
		l.end()
	})
	l.n.dur.commit(func(err error) {
		if err != nil {
			time.AfterFunc(time.Second, func() { _ = l.el.Execute(context.Background(), run) })
			return
		}
		_ = l.el.Execute(context.Background(), run)
	})
}

// needsDurability reports whether a publish to topic would have to be written to the store:
// it is retained, or a durable session subscribes to it.
func (l *loop) needsDurability(topic []byte, retain bool) bool {
	if retain {
		return true
	}
	m := &l.matches
	m.Reset()
	l.n.subs.Match(topic, m)
	for i := range m.Subscribers {
		if m.Subscribers[i].Handle.Durable.Load() {
			return true
		}
	}
	for _, g := range m.Groups {
		for _, mem := range g.Members() {
			if mem.Handle.Durable.Load() {
				return true
			}
		}
	}
	return false
}

// refuseUndurable answers a QoS 1/2 publish that cannot be made durable (the store is
// failed, or refused a write the publish needed): MQTT 5 gets PUBACK/PUBREC 0x97 with a
// reason string, MQTT 3.x (which has no such code) a closed connection, so that the publisher
// keeps the message and sends it again later.
func (c *conn) refuseUndurable(t codec.PacketType, id uint16, cause error) {
	c.loop.stats.StoreRefused++
	if t == codec.TypePubrec {
		s := c.sess
		s.Lock()
		s.Pending.Remove(id) // the flow ends with the error code
		s.Unlock()
	}
	why := "message store refused the write: "
	if errors.Is(cause, errStoreDown) || errors.Is(cause, kvlog.ErrUnavailable) {
		why = "message store unavailable (disk full or unwritable): "
	}
	if c.version == codec.V5 {
		c.sendAck(t, id, codec.QuotaExceeded, why+cause.Error())
		return
	}
	c.closeWith(0, why+"a QoS 1/2 publish cannot be made durable: "+cause.Error())
}

// refuseStored refuses a QoS 1/2 publish one of whose writes the store refused, after the
// acknowledgements still waiting for the store (so that acknowledgements keep the order of
// the publishes).
func (c *conn) refuseStored(t codec.PacketType, id uint16, cause error) {
	if c.held > 0 {
		c.ackDurable(t, id, codec.QuotaExceeded, cause)
		return
	}
	c.refuseUndurable(t, id, cause)
}
