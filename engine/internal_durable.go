package engine

import "errors"

// Durable internal subscribers.
//
// A subscriber that keeps what it receives (a bridge's disk queue) sets
// SubscriberOptions.Commit. The acknowledgement (PUBACK, PUBREC) of a QoS 1/2 PUBLISH that
// routing delivers to it at QoS 1/2 then waits, besides the store's commit (ackDurable), until
// the subscriber says it keeps the message: an acknowledged message is never only in the
// subscriber's in-memory queue when the process dies.
//
// How: the publisher's loop attaches its held acknowledgement to each such delivery of the
// round (conn.ackAfter). After a Handle call whose batch holds deliveries with an
// acknowledgement attached, the subscriber's goroutine calls Commit(done); the subscriber
// calls done once, from any goroutine and without making the caller wait, when everything its
// Handle calls were given so far is kept (nil), or with the error that lost some of it. The
// last wait of an acknowledgement completed sends it from its loop (in the connection's order);
// a failure turns it into a refusal (MQTT 5: 0x97, 3.x: the connection closes), so that the
// publisher keeps the message and sends it again. A delivery the full queue drops (Overflow),
// or that a closed subscriber cannot take, fails its acknowledgement the same way: overload
// never silently loses an acknowledged QoS 1/2 message, and a publisher whose
// acknowledgements are held is slowed down by its own in-flight window (MQTT 5: the server's
// Receive Maximum).
//
// Nothing changes for subscribers without Commit, QoS 0, or publishes from outside a
// connection (Node.Publish, a bridge's inbound messages): they have no acknowledgement.

// errSubscriberFull fails the acknowledgement of a delivery a full internal subscriber's
// queue dropped.
var errSubscriberFull = errors.New("an internal subscriber (bridge) is overloaded: its queue is full")

// lost releases a delivery that will not be handled and fails the acknowledgement waiting for
// it, if any.
func (d *Delivery) lost(cause error) {
	d.Msg.Release()
	if d.wait != nil {
		d.wait.done(cause)
		d.wait = nil
	}
}

// commit asks a durable subscriber to confirm the batch it just handled, when an
// acknowledgement waits for one of its deliveries. Runs on the subscriber's goroutine.
func (sub *Subscriber) commit(batch []Delivery) {
	if sub.opts.Commit == nil {
		return
	}
	var waits []*heldAck
	for i := range batch {
		if w := batch[i].wait; w != nil {
			waits = append(waits, w)
			batch[i].wait = nil
		}
	}
	if len(waits) == 0 {
		return
	}
	sub.opts.Commit(func(err error) {
		for _, w := range waits {
			w.done(err)
		}
	})
}

// durableInternal reports whether a delivery of ds (the publish's deliveries to internal
// subscribers, this round) goes at QoS 1/2 to a durable subscriber, whose keeping the
// publisher's acknowledgement waits for.
func durableInternal(ds []internalDelivery) bool {
	for i := range ds {
		if ds[i].d.QoS > 0 && ds[i].sub.opts.Commit != nil {
			return true
		}
	}
	return false
}
