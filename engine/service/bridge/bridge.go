// Package bridge is the MQTT bridge (EMQX's emqx_bridge_mqtt plugin): each configured bridge
// is an MQTT client of a remote broker. Local messages matching its forwards go into its queue
// and from there to the remote, under its mountpoint; messages of its remote subscriptions are
// published locally.
//
// Path of a forwarded message: the bridge is an internal subscriber of the node
// (engine.Node.NewSubscriber), so an event loop hands it a matching message the way it hands
// one to a local subscriber (a reference, moved into the subscriber's bounded queue at the end
// of the loop's round). The subscriber's goroutine encodes the messages into the bridge's
// replayq queue (durable with queue.replayq_dir). The subscriber is durable (Commit): the
// PUBACK/PUBREC of a local QoS 1/2 publish that a forward matches waits until the queue holds
// the message (a durable queue: written by its log), so that a kill -9 never loses a message
// acknowledged to its publisher. The bridge's worker goroutine takes them out
// in batches of queue.batch_count_limit / batch_bytes_limit, writes each batch with one write,
// keeps up to max_inflight_batches batches unacknowledged, and removes a QoS 1/2 message from
// the queue only when the remote acknowledged it (PUBACK, PUBREC). After a reconnect
// everything unacknowledged is sent again, in queue order, so the order per topic is kept and
// nothing queued is lost while the remote is down or the broker restarts.
//
// Loop prevention: forwards are No Local subscriptions of the bridge's own subscriber, and the
// messages of remote subscriptions are published by that subscriber, so they never go back out
// through the same bridge. MQTT 5 remote subscriptions also ask for No Local, and MQTT 3.x
// connections set mosquitto's bridge bit (bridge_mode), so that the remote does not echo.
//
// RPC bridges (address = node@host; rpc.go) share all of this but the link: forward-only, to a
// node of another of our clusters over its RPC listener (a NATS connection), batches removed
// from the queue when the remote node answers them.
//
// The remote client is the package mqttc (a small client over codec; its package comment says
// why not paho). Everything runs on the bridge's goroutines; the event loops never wait for a
// bridge.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/service/bridge/replayq"
)

// State is a bridge's connection state.
type State int32

const (
	Stopped    State = iota // not started, or stopped
	Connecting              // started, waiting to (re)connect
	Connected               // connected to the remote
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	}
	return "stopped"
}

// Bridge is one running bridge. Its methods are safe for concurrent use.
type Bridge struct {
	cfg   Config
	node  *engine.Node
	log   *slog.Logger
	sub   *engine.Subscriber
	q     *replayq.Queue
	saved func() // persists the run-time forwards and subscriptions

	mu       sync.Mutex
	forwards []string
	subs     []Subscription
	stop     chan struct{}       // non-nil while the worker runs; closed to stop it
	done     chan struct{}       // closed when the worker has returned
	sess     *session            // the current connection's state, nil when not connected
	pubrel   map[uint16]struct{} // PUBRELs of the last connection not completed, for a resumed session

	state         atomic.Int32
	running       atomic.Pointer[bool] // the state the last start/stop command left, nil if none (Set)
	wake          chan struct{}        // the queue has new messages
	nextID        atomic.Uint32        // packet identifiers continue across connections
	sent          atomic.Uint64
	received      atomic.Uint64
	expired       atomic.Uint64 // expired before sending (and undecodable items)
	tooLarge      atomic.Uint64 // larger than the remote's Maximum Packet Size
	reconnects    atomic.Uint64
	everConnected atomic.Bool
	lastError     atomic.Pointer[string]

	encBuf    []byte   // subscriber goroutine only
	encList   [][]byte // subscriber goroutine only
	appendErr error    // subscriber goroutine only: the last enqueue's failure, for commit
}

// open creates a bridge: its queue (loading what a durable queue holds) and its local
// subscriptions. It does not connect.
func open(node *engine.Node, cfg Config, log *slog.Logger, saved func()) (*Bridge, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	b := &Bridge{cfg: cfg, node: node, log: log.With("bridge", cfg.Name), saved: saved, wake: make(chan struct{}, 1),
		forwards: slices.Clone(cfg.Forwards), subs: slices.Clone(cfg.Subscriptions)}
	var err error
	b.q, err = replayq.Open(replayq.Options{
		Dir: cfg.QueueDir, SegmentBytes: cfg.SegmentBytes, MaxBytes: cfg.MaxQueueBytes,
		Logf: func(format string, args ...any) { b.log.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", cfg.Name, err)
	}
	if st := b.q.Stats(); st.Count > 0 {
		b.log.Info("bridge queue loaded", "messages", st.Count, "bytes", st.Bytes, "dir", cfg.QueueDir)
	}
	b.sub, err = node.NewSubscriber(engine.SubscriberOptions{
		Name: "bridge:" + cfg.Name, QueueLen: 1 << 16, Overflow: engine.DropOldest, Batch: 512, Handle: b.enqueue, Commit: b.commit,
	})
	if err != nil {
		b.q.Close()
		return nil, err
	}
	for _, f := range b.forwards {
		if err := b.sub.Subscribe(f, forwardOptions); err != nil {
			b.close()
			return nil, fmt.Errorf("bridge %s: forward %q: %w", cfg.Name, f, err)
		}
	}
	return b, nil
}

// forwardOptions: every QoS as published, retain as published, never what the bridge itself
// published (loop prevention).
var forwardOptions = engine.SubscribeOptions{QoS: 2, NoLocal: true, RetainAsPublished: true}

// Name is the bridge's name.
func (b *Bridge) Name() string { return b.cfg.Name }

// State is the bridge's connection state.
func (b *Bridge) State() State { return State(b.state.Load()) }

// enqueue is the subscriber's Handle: the delivered messages go into the queue.
func (b *Bridge) enqueue(ds []engine.Delivery) {
	buf, list := b.encBuf[:0], b.encList[:0]
	for _, d := range ds {
		start := len(buf)
		buf = appendMessage(buf, d.Msg, d.QoS, d.Retain)
		list = append(list, buf[start:len(buf):len(buf)])
	}
	// buf may have moved while growing: slice the items again from the final buffer.
	off := 0
	for i, it := range list {
		list[i] = buf[off : off+len(it)]
		off += len(it)
	}
	b.appendErr = nil
	if _, err := b.q.Append(list...); err != nil {
		b.appendErr = err
		if !errors.Is(err, replayq.ErrClosed) {
			b.log.Error("bridge cannot queue messages; they are lost (QoS 1/2 publishers are refused)", "messages", len(list), "error", err)
		}
	}
	clear(list)
	b.encList = list[:0]
	if cap(buf) <= 1<<20 {
		b.encBuf = buf[:0]
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// commit is the subscriber's Commit: done is called once the queue holds what enqueue was
// given so far (a durable queue: its log wrote it), with the error if it could not take it.
func (b *Bridge) commit(done func(error)) {
	if err := b.appendErr; err != nil {
		done(fmt.Errorf("bridge %s cannot queue the message: %w", b.cfg.Name, err))
		return
	}
	b.q.Commit(done)
}

// Start connects (one attempt, waiting for it) and, connected, keeps the bridge running:
// reconnecting after a failure until Stop. It returns ErrAlreadyStarted when the bridge is
// already started, and the connection error when the attempt failed (the bridge then stays
// stopped, as EMQX's does).
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.stop != nil {
		b.mu.Unlock()
		return ErrAlreadyStarted
	}
	b.mu.Unlock()
	if b.cfg.RPC != nil {
		return b.startRPC(ctx)
	}
	conn, sess, err := b.connect(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.stop != nil { // started meanwhile by another caller
		b.mu.Unlock()
		conn.Close()
		return ErrAlreadyStarted
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	stop, done := b.stop, b.done
	b.state.Store(int32(Connected))
	b.mu.Unlock()
	go b.run(stop, done, conn, sess)
	return nil
}

// startRetrying starts the worker without waiting for a connection (start_type = auto).
func (b *Bridge) startRetrying() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stop != nil {
		return
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	b.state.Store(int32(Connecting))
	if b.cfg.RPC != nil {
		go b.runRPC(b.stop, b.done, nil)
		return
	}
	go b.run(b.stop, b.done, nil, nil)
}

// ErrAlreadyStarted is Start's answer for a started bridge.
var ErrAlreadyStarted = errors.New("bridge already started")

// ErrNotStarted is Stop's answer for a stopped bridge.
var ErrNotStarted = errors.New("bridge not started")

// Stop disconnects and stops reconnecting; the queue keeps filling (bounded).
func (b *Bridge) Stop() error {
	b.mu.Lock()
	stop, done := b.stop, b.done
	b.stop, b.done = nil, nil
	b.mu.Unlock()
	if stop == nil {
		return ErrNotStarted
	}
	close(stop)
	<-done
	return nil
}

// close stops the bridge and releases its subscriber and queue.
func (b *Bridge) close() {
	b.Stop()
	b.sub.Close()
	if err := b.q.Close(); err != nil {
		b.log.Warn("bridge queue did not close cleanly", "error", err)
	}
}

// Forwards returns the local filters forwarded.
func (b *Bridge) Forwards() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.forwards)
}

// Subscriptions returns the remote subscriptions.
func (b *Bridge) Subscriptions() []Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.subs)
}

// AddForward forwards filter's messages from now on.
func (b *Bridge) AddForward(filter string) error {
	if err := codec.ValidTopicFilter([]byte(filter)); err != nil {
		return fmt.Errorf("invalid topic filter %q: %w", filter, err)
	}
	b.mu.Lock()
	if slices.Contains(b.forwards, filter) {
		b.mu.Unlock()
		return nil
	}
	b.forwards = append(b.forwards, filter)
	b.mu.Unlock()
	if err := b.sub.Subscribe(filter, forwardOptions); err != nil {
		b.mu.Lock()
		b.forwards = slices.DeleteFunc(b.forwards, func(s string) bool { return s == filter })
		b.mu.Unlock()
		return err
	}
	b.saved()
	return nil
}

// DelForward stops forwarding filter.
func (b *Bridge) DelForward(filter string) error {
	b.mu.Lock()
	if !slices.Contains(b.forwards, filter) {
		b.mu.Unlock()
		return fmt.Errorf("not a forward: %s", filter)
	}
	b.forwards = slices.DeleteFunc(b.forwards, func(s string) bool { return s == filter })
	b.mu.Unlock()
	b.sub.Unsubscribe(filter)
	b.saved()
	return nil
}

// AddSubscription subscribes to filter at the remote (now when connected, else at connect).
func (b *Bridge) AddSubscription(filter string, qos byte) error {
	if err := codec.ValidTopicFilter([]byte(filter)); err != nil {
		return fmt.Errorf("invalid topic filter %q: %w", filter, err)
	}
	if qos > 2 {
		return fmt.Errorf("QoS %d is not 0, 1 or 2", qos)
	}
	if b.cfg.RPC != nil {
		return errRPCSubscription
	}
	b.mu.Lock()
	i := slices.IndexFunc(b.subs, func(s Subscription) bool { return s.Topic == filter })
	if i >= 0 {
		b.subs[i].QoS = qos
	} else {
		b.subs = append(b.subs, Subscription{Topic: filter, QoS: qos})
	}
	sess := b.sess
	b.mu.Unlock()
	if sess != nil {
		sess.subscribe([]Subscription{{Topic: filter, QoS: qos}})
	}
	b.saved()
	return nil
}

// DelSubscription unsubscribes from filter at the remote.
func (b *Bridge) DelSubscription(filter string) error {
	b.mu.Lock()
	i := slices.IndexFunc(b.subs, func(s Subscription) bool { return s.Topic == filter })
	if i < 0 {
		b.mu.Unlock()
		return fmt.Errorf("not a subscription: %s", filter)
	}
	b.subs = slices.Delete(b.subs, i, i+1)
	sess := b.sess
	b.mu.Unlock()
	if sess != nil {
		sess.conn.Unsubscribe(sess.packetID(), filter)
	}
	b.saved()
	return nil
}

// Metrics are a bridge's counters and backlog, for `bridges list`, the HTTP API and /metrics.
type Metrics struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "connected", "connecting" or "stopped"
	// Queued and QueuedBytes are the messages waiting for the remote (sent and not
	// acknowledged included); OldestAge is how long the oldest of them has waited.
	Queued      int           `json:"queued"`
	QueuedBytes int64         `json:"queued_bytes"`
	OldestAge   time.Duration `json:"-"`
	Sent        uint64        `json:"sent"`     // messages acknowledged by the remote (QoS 0: written)
	Received    uint64        `json:"received"` // messages of remote subscriptions published locally
	// Dropped counts messages lost: queue overflow, the subscriber's queue overflow, expiry,
	// larger than the remote accepts.
	Dropped    uint64 `json:"dropped"`
	Reconnects uint64 `json:"reconnects"` // connections made after the first
	LastError  string `json:"last_error,omitempty"`
}

// Metrics returns the bridge's current metrics.
func (b *Bridge) Metrics() Metrics {
	st := b.q.Stats()
	m := Metrics{
		Name: b.cfg.Name, Status: b.State().String(), Queued: st.Count, QueuedBytes: st.Bytes,
		Sent: b.sent.Load(), Received: b.received.Load(),
		Dropped:    st.Dropped + b.sub.Dropped() + b.expired.Load() + b.tooLarge.Load(),
		Reconnects: b.reconnects.Load(),
	}
	if st.Oldest > 0 {
		m.OldestAge = max(time.Since(time.Unix(0, st.Oldest)), 0)
	}
	if e := b.lastError.Load(); e != nil {
		m.LastError = *e
	}
	return m
}
