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

	// Subs is the session's subscriptions in the order they were made. Read it freely (with
	// the lock); change it only through Subscribe, Unsubscribe, TakeSubs and Reset, which
	// keep subIdx beside it.
	Subs    []Subscription
	subIdx  map[string]int32 // filter → index in Subs; built once Subs reaches subIndexMin
	Queue   Queue            // messages not yet sent
	Window  Window           // outbound QoS 1/2 messages sent and not yet acknowledged
	Pending Pending          // inbound QoS 2 identifiers awaiting PUBREL

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

// subIndexMin is the number of subscriptions from which a session indexes them by filter:
// below it a scan of the slice is cheaper than a map and costs no memory, above it the scan
// would make a client that subscribes N filters cost O(N²) on its loop.
const subIndexMin = 16

// find returns the index of filter in s.Subs, or -1. Hold the lock.
func (s *Session) find(filter string) int {
	if s.subIdx != nil {
		if i, ok := s.subIdx[filter]; ok {
			return int(i)
		}
		return -1
	}
	for i := range s.Subs {
		if s.Subs[i].Filter == filter {
			return i
		}
	}
	return -1
}

// Subscription returns the options of the subscription to filter and whether it exists, in
// constant time (see subIndexMin). Hold the lock.
func (s *Session) Subscription(filter string) (trie.Options, bool) {
	if i := s.find(filter); i >= 0 {
		return s.Subs[i].Options, true
	}
	return trie.Options{}, false
}

// Subscribe adds or replaces the subscription to filter and reports whether it already
// existed (MQTT 5 SUBACK and Retain Handling 1 need to know), in constant time. Hold the lock.
func (s *Session) Subscribe(filter string, o trie.Options) (existed bool) {
	if i := s.find(filter); i >= 0 {
		s.Subs[i].Options = o
		return true
	}
	s.Subs = append(s.Subs, Subscription{Filter: filter, Options: o})
	switch {
	case s.subIdx != nil:
		s.subIdx[filter] = int32(len(s.Subs) - 1)
	case len(s.Subs) >= subIndexMin:
		s.subIdx = make(map[string]int32, 2*len(s.Subs))
		for i := range s.Subs {
			s.subIdx[s.Subs[i].Filter] = int32(i)
		}
	}
	return false
}

// Unsubscribe removes the subscription to filter and reports whether it existed. The others
// keep their order, so this costs a move of the subscriptions made after it (and their index
// entries). Hold the lock.
func (s *Session) Unsubscribe(filter string) bool {
	i := s.find(filter)
	if i < 0 {
		return false
	}
	copy(s.Subs[i:], s.Subs[i+1:])
	s.Subs[len(s.Subs)-1] = Subscription{}
	s.Subs = s.Subs[:len(s.Subs)-1]
	if s.subIdx != nil {
		delete(s.subIdx, filter)
		for j := i; j < len(s.Subs); j++ {
			s.subIdx[s.Subs[j].Filter] = int32(j)
		}
		if len(s.Subs) == 0 {
			s.subIdx = nil
		}
	}
	return true
}

// TakeSubs removes every subscription from the session and returns them (the caller removes
// their routes). Hold the lock.
func (s *Session) TakeSubs() []Subscription {
	subs := s.Subs
	s.Subs, s.subIdx = nil, nil
	return subs
}

// Reset discards everything the session holds (clean start over an existing session) but
// keeps its identity. Hold the lock.
func (s *Session) Reset() {
	s.Subs, s.subIdx = nil, nil
	s.Queue.Clear()
	s.Window.Clear()
	s.Pending.Clear()
	s.IDs = IDs{}
}
