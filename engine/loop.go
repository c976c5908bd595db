package engine

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// loop is the broker's state for one gnet event loop. Everything in it except the inbox is
// touched only by that loop's goroutine. A "side" loop (el == nil) stands for callers outside
// the event loops (will timers, the HTTP API, $SYS): it owns no connection, so everything it
// routes goes through the owners' inboxes; its mutex serialises those callers.
type loop struct {
	n   *Node
	el  gnet.EventLoop // nil for the side loop
	idx int

	side sync.Mutex // held by side-loop users for the whole routing call

	conns          []*conn // every connection on this loop, for sweeps; conn.slot indexes it
	dirty          []*conn // connections with output waiting for the end of this round
	slow           []*conn // connections whose output backlog is above the high-water mark
	waiting        []*conn // connections over their listener's max_conn_rate, in arrival order
	throttled      []*conn // connections whose input is over a rate limit (ratelimit.go)
	spareThrottled []*conn
	spareSlow      []*conn
	lingering      []lingerer // sockets closing with a lingering close (linger.go)
	lingerNew      bool       // some of them started this round: shut their write side at its end
	now            int64      // unix nanoseconds, read once per round
	outPeak        int        // largest output a round built since trimFree last trimmed (putBuf)
	trimSlices     int        // sweep slices since trimFree last trimmed
	deliveryPeak   int        // largest delivery batch since trimFree last trimmed (burst.go)

	// outbox[i] collects deliveries for sessions owned by loop i during this round; touched
	// lists the i with a non-empty outbox.
	outbox  [][]delivery
	touched []int

	// internal collects this round's deliveries to internal subscribers (internal.go).
	internal      []internalDelivery
	internalBatch []Delivery
	peerScratch   []trie.Member[*sessions.Session] // local members of a shared group (peer.go)
	peerBlock     sessions.MessageBlock            // the side loop's forwarded messages (peer.go)
	giveHold      *sessions.Message                // a message whose builder's hold the next push of it takes (peer.go)

	// inbox receives deliveries from other loops; guarded by inboxMu.
	inboxMu   sync.Mutex
	inbox     []delivery
	spare     []delivery // swapped with inbox when processing
	scheduled bool       // an inbox task is queued on the loop
	inboxTask gnet.Runnable
	sweepTask gnet.Runnable
	lagSent   lagRing // when the ticker handed the outstanding sweep tasks (looplag.go)

	// Scratch packets, reused for every decode and encode on this loop.
	connect  codec.Connect
	publish  codec.Publish
	ack      codec.Ack
	sub      codec.Subscribe
	unsub    codec.Unsubscribe
	disc     codec.Disconnect
	auth     codec.Auth
	outPub   codec.Publish
	suback   codec.Suback
	matches  trie.Matches[*sessions.Session]
	ids      []uint32
	subCodes []codec.ReasonCode // per filter of the SUBSCRIBE being handled
	aclReqs  []aclDecision      // access checks the packet being handled waits for
	free     [][]byte           // output buffers not in use
	freeIov  []*iovec
	hdr      codec.PublishHeader // shared part of the PUBLISH being written

	stats loopStats
	hooks *hookSet // the node's hooks, read once per round (nil: none)
	// traceOne holds the one output buffer handed to the PacketsOut hooks (tracepackets.go).
	traceOne [1][]byte

	// answers are the authentication chain's answers waiting for this loop (authanswers.go).
	answers authAnswers

	// writes says what the durable store did for the publish being routed (a delivery to a
	// durable session, its retained message): the publisher's acknowledgement then waits
	// for the store (ackDurable) or is a refusal (refuseUndurable).
	writes publishWrites

	// ending is set while end runs (see end).
	ending bool
	// sweepAt is the index in conns where the next sweep slice starts.
	sweepAt int

	// Acknowledgements released by the durable store, sent by durTask (see ackDurable).
	durMu        sync.Mutex
	durAcks      []*heldAck
	durSpare     []*heldAck
	durScheduled bool
	durTask      gnet.Runnable

	// snap is a copy of stats taken at every sweep, so that Node.Stats can read the counters
	// from other goroutines without racing the loop's plain increments.
	snapMu sync.Mutex
	snap   loopStats
}

func newLoop(n *Node, el gnet.EventLoop, idx int) *loop {
	l := &loop{n: n, el: el, idx: idx}
	l.inboxTask = gnet.RunnableFunc(func(context.Context) error { l.runInbox(); return nil })
	l.sweepTask = gnet.RunnableFunc(func(context.Context) error { l.sweep(); return nil })
	l.durTask = gnet.RunnableFunc(func(context.Context) error { l.sendDurableAcks(); return nil })
	l.answers.task = runFunc(l.completeAnswers)
	return l
}

// begin starts a round of work on the loop (one callback or task).
func (l *loop) begin() {
	l.now = time.Now().UnixNano()
	l.hooks = l.n.hooks.Load()
}

// end finishes a round: writes every dirty connection's output with one call each, and wakes
// every remote loop that received sessions, once each.
//
// A write that fails closes its connection inside the call, and OnClose ends its own round:
// that nested end returns at once and this one carries on with whatever the close added.
func (l *loop) end() {
	if l.ending {
		return
	}
	l.ending = true
	l.flushDirty()
	if len(l.slow) > 0 {
		l.resumeSlow()
		l.flushDirty()
	}
	if l.lingerNew {
		l.shutLingering()
	}
	l.ending = false
	if len(l.internal) > 0 {
		l.flushInternal()
	}
	if len(l.touched) == 0 {
		return
	}
	loops := *l.n.loops.Load()
	for _, i := range l.touched {
		batch := l.outbox[i]
		if i < len(loops) {
			loops[i].receive(batch)
		}
		l.deliveryPeak = max(l.deliveryPeak, len(batch))
		clear(batch)
		l.outbox[i] = shrunk(batch)
	}
	l.touched = l.touched[:0]
}

// flushDirty writes the output of every connection that has some. Connections may join the
// list while it runs (a close inside a write publishes a will).
func (l *loop) flushDirty() {
	for i := 0; i < len(l.dirty); i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.flush()
	}
	l.dirty = l.dirty[:0]
}

// delivery is one message on its way to a session owned by another loop (msg nil: only
// drain the session's queue). Everything in it is owned: ids is a copy.
type delivery struct {
	s      *sessions.Session
	msg    *sessions.Message
	subQoS uint8
	retain bool
	ids    []uint32
	seq    uint64 // the delivery's sequence number in a durable session, 0 when not stored
	logSeq uint64 // the store's log position of its record (see sessions.Queued.LogSeq)
}

// push adds d to the batch for loop owner, sent at the end of this round.
func (l *loop) push(owner int, d delivery) {
	for len(l.outbox) <= owner {
		l.outbox = append(l.outbox, nil)
	}
	if len(l.outbox[owner]) == 0 {
		l.touched = append(l.touched, owner)
	}
	switch {
	case d.msg == nil:
	case d.msg == l.giveHold:
		l.giveHold = nil // the builder's own hold travels with the delivery (RouteFromPeer)
	default:
		d.msg.Hold() // released by the owner loop once applied
	}
	l.outbox[owner] = append(l.outbox[owner], d)
}

// receive appends deliveries to the inbox and schedules one task on the loop if none is
// pending. Safe from any goroutine.
func (l *loop) receive(batch []delivery) {
	l.inboxMu.Lock()
	l.inbox = append(l.inbox, batch...)
	schedule := !l.scheduled
	l.scheduled = true
	l.inboxMu.Unlock()
	if !schedule {
		return
	}
	if err := l.el.Execute(context.Background(), l.inboxTask); err != nil {
		// The engine is shutting down: the messages wait in their sessions' queues.
		l.inboxMu.Lock()
		pending := l.inbox
		l.inbox = nil
		l.scheduled = false
		l.inboxMu.Unlock()
		for _, d := range pending {
			if d.msg == nil {
				continue
			}
			d.s.Lock()
			if !d.s.Gone {
				qos := min(d.msg.QoS, d.subQoS)
				if old, dropped := d.s.Queue.Push(sessions.Queued{Msg: d.msg, QoS: qos, Retain: d.retain, SubIDs: d.ids, Seq: d.seq, LogSeq: d.logSeq}); dropped {
					l.n.stats.dropped.Add(1)
					old.Msg.Release()
				}
			}
			d.s.Unlock()
			d.msg.Release() // the hold push took; the queue has its own
		}
	}
}

// runInbox runs on the loop: it applies every delivery other loops sent it.
func (l *loop) runInbox() {
	l.inboxMu.Lock()
	batch := l.inbox
	l.inbox = l.spare[:0]
	l.scheduled = false
	l.inboxMu.Unlock()

	l.begin()
	for i := range batch {
		d := &batch[i]
		d.s.Lock()
		l.apply(d.s, d.msg, d.subQoS, d.retain, d.ids, d.seq, d.logSeq)
		d.s.Unlock()
		if d.msg != nil {
			d.msg.Release() // the hold push took
		}
		*d = delivery{}
	}
	l.deliveryPeak = max(l.deliveryPeak, len(batch))
	// Kept whatever this round used: how much waits in the inbox varies from round to round
	// (another loop's burst, a node's forwarded frame routed in slices), and dropping a large
	// spare after a small round made the next large one grow the inbox again, copying as it
	// grew (6 % of a receiving node's CPU in cluster-p2p-q0). trimDeliveries drops it once
	// an interval's rounds stayed far below it.
	l.spare = batch[:0]
	l.end()
}

// resumeSlow sends queued messages to slow consumers whose backlog fell to half the
// high-water mark, and forgets closed ones.
func (l *loop) resumeSlow() {
	list := l.slow
	l.slow = l.spareSlow[:0] // draining may mark connections slow again
	for i, c := range list {
		list[i] = nil
		if c.state != stateConnected {
			c.unset(flagSlow)
			continue
		}
		if c.tr.OutboundBuffered() > c.lis.Zone.HighWater/2 {
			l.slow = append(l.slow, c)
			continue
		}
		c.unset(flagSlow)
		s := c.sess
		s.Lock()
		if s.Owner == c {
			c.drain()
		}
		s.Unlock()
		if c.has(flagDirty) {
			c.flush() // drained output goes out in this round
			l.removeDirty(c)
		}
	}
	l.spareSlow = list[:0]
}

// removeDirty drops c from the dirty list after an early flush.
func (l *loop) removeDirty(c *conn) {
	for i, d := range l.dirty {
		if d == c {
			l.dirty = append(l.dirty[:i], l.dirty[i+1:]...)
			return
		}
	}
}

// getIovec returns an empty iovec.
func (l *loop) getIovec() *iovec {
	if n := len(l.freeIov); n > 0 {
		iv := l.freeIov[n-1]
		l.freeIov = l.freeIov[:n-1]
		return iv
	}
	return &iovec{}
}

// putIovec takes back an iovec, dropping its references to payloads and releasing their
// messages (gnet has written them or copied what the socket did not take).
func (l *loop) putIovec(iv *iovec) {
	for i, m := range iv.msgs {
		m.Release()
		iv.msgs[i] = nil
	}
	clear(iv.bufs)
	iv.bufs, iv.msgs, iv.mark, iv.bytes = iv.bufs[:0], iv.msgs[:0], 0, 0
	if len(l.freeIov) < 64 {
		l.freeIov = append(l.freeIov, iv)
	}
}

// getBuf returns an empty output buffer.
func (l *loop) getBuf() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return make([]byte, 0, 4096)
}

// putBuf takes back an output buffer; very large ones are left to the GC so that one burst
// does not pin memory forever.
func (l *loop) putBuf(b []byte) {
	if len(b) > l.outPeak {
		l.outPeak = len(b)
	}
	if cap(b) > maxPooledOut || len(l.free) >= 64 {
		return
	}
	l.free = append(l.free, b[:0])
}

// addConn registers a new connection for sweeps.
func (l *loop) addConn(c *conn) {
	c.slot = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

// removeConn unregisters a closed connection (swap-remove).
func (l *loop) removeConn(c *conn) {
	i := c.slot
	if i < 0 || int(i) >= len(l.conns) || l.conns[i] != c {
		return
	}
	last := len(l.conns) - 1
	l.conns[i] = l.conns[last]
	l.conns[i].slot = i
	l.conns[last] = nil
	l.conns = l.conns[:last]
	c.slot = -1
	if cap(l.conns) > 1024 && len(l.conns) < cap(l.conns)/4 {
		l.conns = append([]*conn(nil), l.conns...)
	}
}

// sweepSlices is how many sweep tasks share one sweep interval: each checks the next slice
// of the loop's connections, so that with half a million connections on a loop no single
// task holds it for tens of milliseconds.
const sweepSlices = 10

// sweep runs on the loop sweepSlices times per sweep interval (about once a second) and
// checks the next slice of its connections: keep-alive and idle timeouts, await-rel
// timeouts, retries of unacknowledged messages, and resuming output to connections whose
// socket drained. Every connection is checked once per interval (a connection moved by a
// removal in between may be checked twice or wait one more interval).
func (l *loop) sweep() {
	l.begin()
	l.observeLag()
	l.releaseWaiting()
	if len(l.throttled) > 0 {
		l.releaseThrottled()
	}
	if len(l.lingering) > 0 {
		l.sweepLingering()
	}
	l.trimFree() // burst.go
	if n := len(l.conns); n > 0 {
		count := (n + sweepSlices - 1) / sweepSlices
		if l.sweepAt >= n {
			l.sweepAt = 0
		}
		for k := 0; k < count && l.sweepAt < len(l.conns); k++ {
			c := l.conns[l.sweepAt]
			l.sweepAt++
			c.tick()
		}
	}
	l.end()
	l.snapMu.Lock()
	l.snap = l.stats
	l.snapMu.Unlock()
}
