package engine

// On-loop internal subscribers.
//
// An internal subscriber with SubscriberOptions.OnLoop receives what an event loop routed to
// it during a round in one call on that loop, at the end of the round (after the loop's
// client writes), instead of through its queue and goroutine. It is for a subscriber that
// only copies what it needs into a buffer of its own and hands that buffer to its own
// goroutine (a cluster peer's forwarder encodes each message into the frame for that node):
// the message is read while still in the loop's cache, no delivery crosses to another
// goroutine, and a pooled message goes back to the pool of the processor that took it.
//
// OnLoop runs on an event loop, or on the side loop with its lock held: it must not block
// (no waiting on a channel, a network write, a lock held across I/O), and calls for one
// subscriber may run at the same time on different loops, so it synchronises itself. The
// slice and its messages are valid only during the call. Calls stop once the subscriber is
// closed (a call in progress may still finish).

// handOnLoop gives a round's deliveries to OnLoop and releases their messages. Runs on a
// loop (or the side loop with its mutex held).
func (sub *Subscriber) handOnLoop(batch []Delivery) {
	if !sub.isClosed() {
		sub.callOnLoop(batch)
	}
	for i := range batch {
		batch[i].Msg.Release()
	}
}

// callOnLoop calls OnLoop, keeping the loop alive if it panics.
func (sub *Subscriber) callOnLoop(batch []Delivery) {
	defer func() {
		if v := recover(); v != nil {
			sub.n.log.Error("BUG: internal subscriber's OnLoop panicked", "subscriber", sub.opts.Name, "panic", v)
		}
	}()
	sub.opts.OnLoop(batch)
}
