package sessions

import (
	"sync"
	"sync/atomic"

	"github.com/emqgo/emqgo/trie"
)

// NeverExpire is the MQTT 5 session expiry interval that means "never" (MQTT 5, 3.1.2.11.2):
// 0xFFFFFFFF seconds.
const NeverExpire = 0xFFFFFFFF

// Subscription is one entry of a session's own subscription list: the filter exactly as the
// client sent it (with any $share/$queue prefix) and its options. The session keeps this list
// so that it can remove its routes on expiry and report them to the API.
type Subscription struct {
	Filter  string
	Options trie.Options
}

// Session is the state MQTT keeps for a client identifier across connections. Every field
// below mu is guarded by it: call Lock before reading or writing them. ClientID and Created
// are immutable.
type Session struct {
	mu sync.Mutex

	ClientID string // immutable
	Created  int64  // unix nanoseconds, immutable

	// Home is the index of the event loop that owns the attached connection, -1 while
	// offline. It is written with the lock held and read without it, so that other loops can
	// hand a message to the owner without touching the session; a stale read is harmless
	// because the receiving loop checks Owner under the lock.
	Home atomic.Int32
	// Durable is set while the session's state is kept in the durable store (persistent
	// session and a store configured). Written with the lock held, read without it by
	// publishers that route to the session.
	Durable atomic.Bool
	// Seq numbers the session's stored QoS 1/2 deliveries (Queued.Seq): taken with Add(1)
	// by whichever loop routes a message to the session. SeqBase is the first value of this
	// incarnation of the session (records below it in the store belong to an older one).
	Seq     atomic.Uint64
	SeqBase uint64
	// ExpiryInterval is the session expiry interval in seconds (MQTT 5; for 3.x, 0 for a
	// clean session and the zone's session_expiry_interval otherwise). NeverExpire never.
	ExpiryInterval uint32

	// Owner is the engine's connection currently attached, nil while the client is offline.
	// The sessions package never looks inside it.
	Owner any
	// Last is the engine's record of the session's last connection, set when a connection
	// closes and leaves the session behind; the sessions package never looks inside it.
	Last any
	// Gone is set when the session was discarded (clean start, expiry, kick): late
	// deliveries that still hold a pointer to it drop their message.
	Gone bool
	// StoreQoS0 and UpgradeQoS are the zone settings of the session's last connection
	// (mqueue_store_qos0, upgrade_qos), kept for deliveries while it is offline.
	StoreQoS0, UpgradeQoS bool
	IDs                   IDs // outbound packet identifiers

	Subs    []Subscription
	Queue   Queue   // messages not yet sent
	Window  Window  // outbound QoS 1/2 messages sent and not yet acknowledged
	Pending Pending // inbound QoS 2 identifiers awaiting PUBREL

	// ExpiresAt is when an offline session expires (unix nanoseconds), 0 while online or
	// never.
	ExpiresAt int64
	// DelayedWill is the will message waiting for its Will Delay Interval to pass (MQTT 5),
	// due at WillAt (unix nanoseconds); nil when none. A reconnect clears it
	// [MQTT-3.1.3-9].
	DelayedWill *Message
	WillAt      int64
}

// New returns an empty session for clientID.
func New(clientID string, now int64) *Session {
	s := &Session{ClientID: clientID, Created: now}
	s.Home.Store(-1)
	return s
}

// Lock takes the session lock.
func (s *Session) Lock() { s.mu.Lock() }

// Unlock releases the session lock.
func (s *Session) Unlock() { s.mu.Unlock() }

// TryLock tries to take the session lock without waiting.
func (s *Session) TryLock() bool { return s.mu.TryLock() }

// Subscribe adds or replaces the subscription to filter and reports whether it already
// existed (MQTT 5 SUBACK and Retain Handling 1 need to know). Hold the lock.
func (s *Session) Subscribe(filter string, o trie.Options) (existed bool) {
	for i := range s.Subs {
		if s.Subs[i].Filter == filter {
			s.Subs[i].Options = o
			return true
		}
	}
	s.Subs = append(s.Subs, Subscription{Filter: filter, Options: o})
	return false
}

// Unsubscribe removes the subscription to filter and reports whether it existed. Hold the lock.
func (s *Session) Unsubscribe(filter string) bool {
	for i := range s.Subs {
		if s.Subs[i].Filter == filter {
			copy(s.Subs[i:], s.Subs[i+1:])
			s.Subs[len(s.Subs)-1] = Subscription{}
			s.Subs = s.Subs[:len(s.Subs)-1]
			return true
		}
	}
	return false
}

// Reset discards everything the session holds (clean start over an existing session) but
// keeps its identity. Hold the lock.
func (s *Session) Reset() {
	s.Subs = nil
	s.Queue.Clear()
	s.Window.Clear()
	s.Pending.Clear()
	s.IDs = IDs{}
}
