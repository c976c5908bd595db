package engine

import (
	"net/netip"
	"sync"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// Hooks are callbacks through which a side service ($SYS presence, trace, the HTTP API's
// statistics, a bridge, a cluster node) learns what happens in the broker, as EMQX's hook
// points do. Every field is optional.
//
// A hook runs synchronously where its event happens: usually on an event loop, sometimes on a
// timer or the side pool, sometimes with a session lock held. So a hook must return quickly,
// never block, never call back into the Node, and hand anything slow to a goroutine of its own
// (or an internal subscriber). What it is given is valid only during the call: copy what you
// keep (a *sessions.Message may be held with Hold/Release instead).
//
// Hooks cost nothing when none is installed, and an event nobody listens to costs a length
// check.
type Hooks struct {
	// ClientConnected: a CONNECT was accepted (CONNACK 0 sent).
	ClientConnected func(ev *ClientEvent)
	// ClientDisconnected: an accepted client's connection closed; reason says why
	// ("client sent DISCONNECT", a reason code's name, a socket error...).
	ClientDisconnected func(ev *ClientEvent, reason string)

	// SessionCreated: a new session was created for the client id; SessionResumed: an
	// existing one was attached to a new connection (session present).
	SessionCreated func(clientID string)
	SessionResumed func(clientID string)
	// SessionTerminated: a session ended and was discarded (reason: "expired", "clean
	// start", "connection closed with session expiry 0").
	SessionTerminated func(clientID string, reason string)

	// Subscribed and Unsubscribed: a client's subscription was added (or its options
	// replaced) or removed. filter is as stored (under the mountpoint, with any $share prefix).
	Subscribed   func(clientID, filter string, o trie.Options)
	Unsubscribed func(clientID, filter string)

	// MessagePublished: a message was routed (from a client, a will, or the broker's own
	// Publish); receivers is how many subscriptions it went to.
	MessagePublished func(msg *sessions.Message, receivers int)
	// MessageDelivered: a PUBLISH went to a client at qos (written to its connection).
	MessageDelivered func(clientID string, msg *sessions.Message, qos uint8)
	// MessageAcked: a client acknowledged a delivery (PUBACK, or PUBREC for QoS 2).
	MessageAcked func(clientID string, msg *sessions.Message)
	// MessageDropped: a message was not delivered (to one session, or at all), with its
	// cause (DropNoSubscribers, DropQueueFull...). clientID is the session it was dropped for,
	// or the publisher's for causes at publish time.
	MessageDropped func(clientID string, msg *sessions.Message, cause DropCause)

	// PacketIn and PacketsOut see a connection's MQTT packets (packet tracing,
	// tracepackets.go); they are called for every connection, so a listener filters by
	// clientID first and returns.
	PacketIn   func(clientID string, v codec.Version, pkt []byte)
	PacketsOut func(clientID string, v codec.Version, bufs [][]byte)
}

// DropCause says why a message was dropped (EMQX's message.dropped reasons where they exist).
type DropCause string

// Causes of MessageDropped.
const (
	DropNoSubscribers  DropCause = "no_subscribers"  // nobody subscribes to its topic
	DropNotAuthorized  DropCause = "not_authorized"  // the ACL denied the publish
	DropQueueFull      DropCause = "queue_full"      // the session's queue was full (max_mqueue_len)
	DropQoS0Offline    DropCause = "qos0_offline"    // QoS 0 for an offline session, mqueue_store_qos0 off
	DropSlowConsumer   DropCause = "slow_consumer"   // QoS 0 over the connection's high-water mark
	DropExpired        DropCause = "expired"         // its Message Expiry Interval passed
	DropTooLarge       DropCause = "too_large"       // above the client's Maximum Packet Size
	DropAwaitingRel    DropCause = "awaiting_rel"    // QoS 2 over max_awaiting_rel
	DropPayloadFormat  DropCause = "payload_invalid" // not UTF-8 although its format indicator says so
	DropStoreRefused   DropCause = "store_refused"   // QoS 1/2 that could not be made durable
	DropSessionDiscard DropCause = "session_ended"   // queued or in flight when its session ended
)

// ClientEvent describes a client for the connection hooks.
type ClientEvent struct {
	ClientID       string
	Username       string
	Peer           netip.AddrPort
	Listener       string // the listener's name
	Version        codec.Version
	KeepAlive      uint16
	CleanStart     bool
	SessionPresent bool
	// SessionExpiry is the session expiry interval in seconds (0: ends with the connection).
	SessionExpiry uint32
	// ConnectedAt is when the CONNECT was accepted, in unix nanoseconds from a node-wide clock
	// that never repeats nor goes back: two connects of the same client id (a reconnect, a
	// takeover) always get increasing values, across restarts too as long as the wall clock
	// does not go back by more than the downtime. 0 if the connection never was accepted.
	ConnectedAt int64
	// Will is the connection's will message, nil when none (or no longer: published, or
	// dropped by a normal DISCONNECT); WillDelay its MQTT 5 Will Delay Interval in seconds.
	// The message is immutable and not pooled: it may be kept after the call.
	Will      *sessions.Message
	WillDelay uint32
}

// hookSet is the installed hooks, by event, swapped as a whole when hooks are added or
// removed; the loops read it once per round.
type hookSet struct {
	connected    []func(*ClientEvent)
	disconnected []func(*ClientEvent, string)
	created      []func(string)
	resumed      []func(string)
	terminated   []func(string, string)
	subscribed   []func(string, string, trie.Options)
	unsubscribed []func(string, string)
	published    []func(*sessions.Message, int)
	delivered    []func(string, *sessions.Message, uint8)
	acked        []func(string, *sessions.Message)
	dropped      []func(string, *sessions.Message, DropCause)
	packetIn     []func(string, codec.Version, []byte)
	packetsOut   []func(string, codec.Version, [][]byte)
}

// hookRegistry keeps the installed Hooks in the order they were added.
type hookRegistry struct {
	mu   sync.Mutex
	list []*Hooks
}

// AddHooks installs h and returns the function that removes it. Safe from any goroutine;
// the event loops see the change from their next round.
func (n *Node) AddHooks(h *Hooks) (remove func()) {
	r := &n.hookReg
	r.mu.Lock()
	r.list = append(r.list, h)
	n.rebuildHooks()
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, x := range r.list {
			if x == h {
				r.list = append(r.list[:i:i], r.list[i+1:]...)
				break
			}
		}
		n.rebuildHooks()
	}
}

// rebuildHooks publishes the hookSet of the registered Hooks. Hold hookReg.mu.
func (n *Node) rebuildHooks() {
	if len(n.hookReg.list) == 0 {
		n.hooks.Store(nil)
		return
	}
	hs := &hookSet{}
	for _, h := range n.hookReg.list {
		if h.ClientConnected != nil {
			hs.connected = append(hs.connected, h.ClientConnected)
		}
		if h.ClientDisconnected != nil {
			hs.disconnected = append(hs.disconnected, h.ClientDisconnected)
		}
		if h.SessionCreated != nil {
			hs.created = append(hs.created, h.SessionCreated)
		}
		if h.SessionResumed != nil {
			hs.resumed = append(hs.resumed, h.SessionResumed)
		}
		if h.SessionTerminated != nil {
			hs.terminated = append(hs.terminated, h.SessionTerminated)
		}
		if h.Subscribed != nil {
			hs.subscribed = append(hs.subscribed, h.Subscribed)
		}
		if h.Unsubscribed != nil {
			hs.unsubscribed = append(hs.unsubscribed, h.Unsubscribed)
		}
		if h.MessagePublished != nil {
			hs.published = append(hs.published, h.MessagePublished)
		}
		if h.MessageDelivered != nil {
			hs.delivered = append(hs.delivered, h.MessageDelivered)
		}
		if h.MessageAcked != nil {
			hs.acked = append(hs.acked, h.MessageAcked)
		}
		if h.MessageDropped != nil {
			hs.dropped = append(hs.dropped, h.MessageDropped)
		}
		if h.PacketIn != nil {
			hs.packetIn = append(hs.packetIn, h.PacketIn)
		}
		if h.PacketsOut != nil {
			hs.packetsOut = append(hs.packetsOut, h.PacketsOut)
		}
	}
	n.hooks.Store(hs)
}

// clientEvent describes c for the connection hooks.
func (c *conn) clientEvent() *ClientEvent {
	ev := &ClientEvent{
		ClientID:       c.clientID,
		Username:       c.username,
		Peer:           c.remote(),
		Listener:       c.lis.Name,
		Version:        c.version,
		KeepAlive:      c.keepAlive,
		SessionPresent: c.has(flagSessionPresent),
		CleanStart:     c.has(flagCleanStart),
		SessionExpiry:  c.sessionExpiry(),
		ConnectedAt:    c.connectedAt,
	}
	if c.will != nil {
		ev.Will, ev.WillDelay = c.will.msg, c.will.delay
	}
	return ev
}

// sessionExpiry returns the expiry interval of c's session, 0 when it has none.
func (c *conn) sessionExpiry() uint32 {
	s := c.sess
	if s == nil {
		return 0
	}
	s.Lock()
	defer s.Unlock()
	return s.ExpiryInterval
}

// dropped reports a dropped message to the hooks, if any listens. Runs on l.
func (l *loop) dropped(clientID string, msg *sessions.Message, cause DropCause) {
	if h := l.hooks; h != nil {
		for _, f := range h.dropped {
			f(clientID, msg, cause)
		}
	}
}

// published reports a message routed to receivers subscriptions (receivers 0: also dropped,
// no subscribers) to the hooks, if any listens. Runs on l.
func (l *loop) published(msg *sessions.Message, receivers int) {
	if h := l.hooks; h != nil {
		for _, f := range h.published {
			f(msg, receivers)
		}
		if receivers == 0 {
			l.dropped(msg.From, msg, DropNoSubscribers)
		}
	}
}

// acked reports an acknowledged delivery to the hooks, if any listens. Runs on l.
func (l *loop) acked(clientID string, msg *sessions.Message) {
	if h := l.hooks; h != nil {
		for _, f := range h.acked {
			f(clientID, msg)
		}
	}
}

// terminated reports a discarded session to the hooks, if any listens.
func (n *Node) terminated(clientID, reason string) {
	if h := n.hooks.Load(); h != nil {
		for _, f := range h.terminated {
			f(clientID, reason)
		}
	}
}
