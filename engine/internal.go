package engine

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// Internal subscribers.
//
// An internal subscriber is anything that is not an MQTT connection and wants messages: a
// bridge, the $SYS and trace machinery, the HTTP API's subscribe call, later a remote cluster
// node. It subscribes through the same trie as the clients (wildcards, $share groups, $queue),
// with a session handle of its own whose Home is homeInternal: routing on an event loop hands
// it each matching message in the same pass as the clients' deliveries, holding the message,
// and at the end of the round the loop moves the round's deliveries into the subscriber's
// queue (one lock per subscriber and round). The subscriber's own goroutine takes them out in
// batches and calls its Handle function; the loops never wait for it.
//
// Backpressure is the subscriber's choice: its queue holds at most QueueLen deliveries, and a
// delivery that finds it full is dropped by the Overflow policy and counted (Dropped).

// homeInternal is the Home of an internal subscriber's session handle.
const homeInternal = -2

// Delivery is one message delivered to an internal subscriber.
type Delivery struct {
	// Msg is the message, valid for the duration of the Handle call: call Msg.Hold (and
	// Release when done) to keep it longer, or copy what is needed. Never modify it.
	Msg *sessions.Message
	// QoS is the delivery QoS: the lower of the message's and the subscription's.
	QoS uint8
	// Retain is the RETAIN flag as an MQTT subscriber with the same options would see it: set
	// for retained messages sent at subscribe time, and for Retain As Published subscriptions.
	Retain bool

	wait *heldAck // the publisher's acknowledgement waiting for a durable subscriber (internal_durable.go)
}

// Overflow is what a full internal subscriber queue does with one more delivery.
type Overflow uint8

const (
	// DropNewest drops the arriving delivery (the queue keeps its order and content).
	DropNewest Overflow = iota
	// DropOldest drops the oldest queued delivery to make room (the freshest data wins).
	DropOldest
)

// SubscriberOptions configure an internal subscriber.
type SubscriberOptions struct {
	// Name identifies the subscriber in logs and as the publisher of the messages it
	// publishes (Subscriber.Publish); it must not be empty.
	Name string
	// QueueLen bounds the deliveries waiting for Handle; 0 means 10,000.
	QueueLen int
	// Overflow says which delivery a full queue drops.
	Overflow Overflow
	// Batch bounds the deliveries of one Handle call; 0 means 256.
	Batch int
	// Peer marks another node of the cluster (see peer.go): its subscriptions are not local
	// interest, and messages from peers never reach it.
	Peer bool
	// KeepQoS1 keeps a QoS 1 or 2 delivery that finds the queue full: the queue grows past
	// QueueLen instead (internal_grow.go); only QoS 0 deliveries are dropped by Overflow.
	// For a subscriber whose Handle applies its own flow control (a cluster peer waits for
	// the other node's acknowledgements), so that a QoS 1 message is never lost on the way.
	KeepQoS1 bool
	// Handle receives the deliveries in order, on the subscriber's own goroutine, one call
	// at a time. The slice and the messages are valid only during the call. It may block
	// (deliveries queue meanwhile, up to QueueLen); it must not call Close.
	Handle func([]Delivery)
	// Commit, when set, makes the subscriber durable: see internal_durable.go.
	Commit func(done func(error))
	// OnLoop, when set, receives the deliveries routed by an event loop on that loop, at the
	// end of its round, instead of through the queue and Handle (internal_onloop.go). Handle
	// still receives the others (retained messages at subscribe time). Not with Commit.
	OnLoop func([]Delivery)
}

// Subscriber is an internal subscriber (see NewSubscriber). Its methods are safe for
// concurrent use.
type Subscriber struct {
	n    *Node
	s    *sessions.Session // handle in the trie; Owner is the Subscriber
	opts SubscriberOptions

	mu     sync.Mutex
	queue  []Delivery // ring buffer of QueueLen slots
	head   int        // index of the oldest delivery
	count  int
	closed bool

	wake    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
}

// ErrSubscriberClosed is returned by the methods of a closed Subscriber.
var ErrSubscriberClosed = errors.New("engine: internal subscriber is closed")

// NewSubscriber creates an internal subscriber. It receives nothing until it subscribes.
// Close it when done. Safe from any goroutine.
func (n *Node) NewSubscriber(opts SubscriberOptions) (*Subscriber, error) {
	if opts.Name == "" || opts.Handle == nil {
		return nil, errors.New("engine: an internal subscriber needs a Name and a Handle")
	}
	if opts.OnLoop != nil && opts.Commit != nil {
		return nil, errors.New("engine: an internal subscriber cannot have both OnLoop and Commit")
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 10000
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	sub := &Subscriber{n: n, opts: opts, queue: make([]Delivery, opts.QueueLen), wake: make(chan struct{}, 1), done: make(chan struct{})}
	sub.s = sessions.New(opts.Name, 0)
	sub.s.Owner = sub
	sub.s.Home.Store(homeInternal)
	go sub.run()
	return sub, nil
}

// Name returns the subscriber's name.
func (sub *Subscriber) Name() string { return sub.opts.Name }

// Dropped returns how many deliveries the full queue dropped so far.
func (sub *Subscriber) Dropped() uint64 { return sub.dropped.Load() }

// SubscribeOptions are the MQTT subscription options of an internal subscription.
type SubscribeOptions struct {
	QoS               uint8
	NoLocal           bool
	RetainAsPublished bool
	// Retained asks for the retained messages matching the filter, delivered (before any
	// later message of the same topic) with Retain set. Never for $share/$queue filters.
	Retained bool
}

// Subscribe subscribes to filter ("a/+/c", "$share/group/a/#", "$queue/a"). Subscribing again
// to the same filter replaces its options.
func (sub *Subscriber) Subscribe(filter string, o SubscribeOptions) error {
	if err := codec.ValidTopicFilter([]byte(filter)); err != nil {
		return err
	}
	if o.QoS > 2 {
		return codec.QoSNotSupported
	}
	s := sub.s
	topts := trie.Options{QoS: o.QoS, NoLocal: o.NoLocal, RetainAsPublished: o.RetainAsPublished}
	s.Lock()
	if sub.isClosed() {
		s.Unlock()
		return ErrSubscriberClosed
	}
	s.Subscribe(filter, topts)
	s.Unlock()
	if _, err := sub.n.indexSubscribe(filter, s, topts); err != nil {
		s.Lock()
		s.Unsubscribe(filter)
		s.Unlock()
		return err
	}
	if o.Retained && !strings.HasPrefix(filter, "$share/") && !strings.HasPrefix(filter, "$queue/") {
		sub.replayRetained(filter, o.QoS)
	}
	return nil
}

// Unsubscribe removes the subscription to filter and reports whether it existed.
func (sub *Subscriber) Unsubscribe(filter string) bool {
	s := sub.s
	s.Lock()
	existed := s.Unsubscribe(filter)
	s.Unlock()
	if existed {
		sub.n.indexUnsubscribe(filter, s)
	}
	return existed
}

// Subscriptions returns the subscriber's filters.
func (sub *Subscriber) Subscriptions() []string {
	s := sub.s
	s.Lock()
	defer s.Unlock()
	out := make([]string, len(s.Subs))
	for i, x := range s.Subs {
		out[i] = x.Filter
	}
	return out
}

// Close removes every subscription, drops what is queued and stops the subscriber's
// goroutine once a Handle call in progress returns. It does not wait for that call.
func (sub *Subscriber) Close() {
	s := sub.s
	s.Lock()
	subs := s.TakeSubs()
	s.Gone = true
	s.Unlock()
	for _, x := range subs {
		sub.n.indexUnsubscribe(x.Filter, s)
	}
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return
	}
	sub.closed = true
	sub.dropQueue()
	sub.mu.Unlock()
	close(sub.done)
}

func (sub *Subscriber) isClosed() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.closed
}

// Publish routes a message on behalf of the subscriber, as Node.Publish does, except that its
// own NoLocal subscriptions do not receive it (a bridge that subscribes to what it also
// publishes does not loop). It returns how many subscriptions received it. Safe from any
// goroutine; never call it from an event loop callback.
func (sub *Subscriber) Publish(topic string, payload []byte, qos uint8, retain bool) (int, error) {
	return sub.n.publish(topic, payload, qos, retain, sub.opts.Name, sub.s)
}

// replayRetained queues the retained messages matching filter, a batch at a time (the
// index is locked only while a batch is taken; memory is bounded by the batch, and by the
// subscriber's queue and overflow policy).
func (sub *Subscriber) replayRetained(filter string, qos uint8) {
	rp := retainedReplays.Get().(*retainedReplay)
	defer rp.done()
	if rp.cur.Start(sub.n.retained, filter) != nil {
		return
	}
	now := time.Now().UnixNano()
	var ds []Delivery
	for !rp.cur.Done() {
		batch := rp.cur.Next(rp.batch[:0], retainedBatch)
		ds = ds[:0]
		for _, m := range batch {
			if m.Expired(now) {
				continue
			}
			m.Hold()
			ds = append(ds, Delivery{Msg: m, QoS: min(m.QoS, qos), Retain: true})
		}
		clear(batch)
		sub.enqueue(ds)
	}
}

// enqueue moves deliveries into the queue, applying the overflow policy, and wakes the
// subscriber's goroutine. Each delivery's message is held by the caller; enqueue owns that
// hold from now on.
func (sub *Subscriber) enqueue(ds []Delivery) {
	if len(ds) == 0 {
		return
	}
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		for _, d := range ds {
			d.lost(ErrSubscriberClosed)
		}
		return
	}
	size := len(sub.queue)
	for _, d := range ds {
		if sub.count == size && sub.opts.KeepQoS1 && d.QoS > 0 {
			size = sub.grow()
		}
		if sub.count == size {
			sub.dropped.Add(1)
			if sub.opts.Overflow == DropNewest {
				d.lost(errSubscriberFull)
				continue
			}
			old := &sub.queue[sub.head]
			old.lost(errSubscriberFull)
			*old = Delivery{}
			sub.head = (sub.head + 1) % size
			sub.count--
		}
		sub.queue[(sub.head+sub.count)%size] = d
		sub.count++
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// dropQueue releases everything queued. Hold mu.
func (sub *Subscriber) dropQueue() {
	size := len(sub.queue)
	for ; sub.count > 0; sub.count-- {
		d := &sub.queue[sub.head]
		d.lost(ErrSubscriberClosed)
		*d = Delivery{}
		sub.head = (sub.head + 1) % size
	}
}

// run is the subscriber's goroutine: it hands the queued deliveries to Handle in batches.
func (sub *Subscriber) run() {
	batch := make([]Delivery, 0, sub.opts.Batch)
	for {
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		}
		for {
			sub.mu.Lock()
			sub.shrinkIdle()
			size := len(sub.queue)
			for sub.count > 0 && len(batch) < cap(batch) {
				d := &sub.queue[sub.head]
				batch = append(batch, *d)
				*d = Delivery{}
				sub.head = (sub.head + 1) % size
				sub.count--
			}
			sub.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			sub.handle(batch)
			sub.commit(batch)
			for i := range batch {
				batch[i].Msg.Release()
				batch[i] = Delivery{}
			}
			batch = batch[:0]
		}
	}
}

// handle calls Handle, keeping the subscriber alive if it panics.
func (sub *Subscriber) handle(batch []Delivery) {
	defer func() {
		if v := recover(); v != nil {
			sub.n.log.Error("BUG: internal subscriber's handler panicked", "subscriber", sub.opts.Name, "panic", v)
		}
	}()
	sub.opts.Handle(batch)
}

// internalDelivery is a delivery to an internal subscriber collected during a loop's round.
type internalDelivery struct {
	sub *Subscriber
	d   Delivery
}

// deliverInternal collects a delivery to internal subscriber handle s for the end of the
// round. Runs on loop l (or the side loop with its mutex held).
func (l *loop) deliverInternal(s *sessions.Session, msg *sessions.Message, subQoS uint8, retain bool) {
	sub, _ := s.Owner.(*Subscriber)
	if sub == nil || msg == nil {
		return
	}
	msg.Hold() // released by the subscriber once handled, or when dropped
	l.internal = append(l.internal, internalDelivery{sub: sub, d: Delivery{Msg: msg, QoS: min(msg.QoS, subQoS), Retain: retain}})
}

// flushInternal moves the round's deliveries to internal subscribers into their queues, one
// lock per run of deliveries to the same subscriber.
func (l *loop) flushInternal() {
	list := l.internal
	for i := 0; i < len(list); {
		j := i + 1
		for j < len(list) && list[j].sub == list[i].sub {
			j++
		}
		batch := l.internalBatch[:0]
		for k := i; k < j; k++ {
			batch = append(batch, list[k].d)
		}
		if sub := list[i].sub; sub.opts.OnLoop != nil {
			sub.handOnLoop(batch)
		} else {
			sub.enqueue(batch)
		}
		clear(batch)
		l.internalBatch = batch[:0]
		i = j
	}
	clear(list)
	l.internal = list[:0]
}
