package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// Sessions, subscriptions and routes of the management API (see manage.go for the ways in
// and the consistency of snapshots).

// SessionInfo is a snapshot of one session, online or offline.
type SessionInfo struct {
	ClientID       string
	Connected      bool
	Durable        bool      // kept in the durable store
	CreatedAt      time.Time // when the session was created
	ExpiryInterval uint32    // seconds; 0: ends with its connection; sessions.NeverExpire: never
	ExpiresAt      time.Time // zero while connected or when it never expires
	SessionCounts
	// Last is the session's last connection while it is offline; nil while connected, and
	// when none was recorded since the node started (manage_lastconn.go).
	Last *LastConnection
}

// Persistent reports whether the session outlives its connection (EMQX's clean_start=false
// of 3.x: an expiry interval above 0).
func (si *SessionInfo) Persistent() bool { return si.ExpiryInterval != 0 }

// SessionQuery selects and pages sessions. Zero fields select everything.
type SessionQuery struct {
	Persistent *bool // only persistent (true) or only transient (false) sessions
	Connected  *bool
	// Offset skips that many matching sessions; Limit caps the page (0: no cap).
	Offset, Limit int
}

// SessionPage is one page of sessions, ordered by client id, and how many matched in all.
type SessionPage struct {
	Total    int
	Sessions []SessionInfo
}

// Sessions lists the sessions that match q, connected and offline ones (internal subscribers
// are not sessions of a client and are not listed). Cost: one walk of the session registry
// and one brief session lock per session, on the caller's goroutine; no loop is involved.
func (n *Node) Sessions(q SessionQuery) SessionPage {
	var all []SessionInfo
	for _, s := range n.allSessions() {
		si, ok := sessionInfo(s)
		if !ok || q.Persistent != nil && si.Persistent() != *q.Persistent || q.Connected != nil && si.Connected != *q.Connected {
			continue
		}
		all = append(all, si)
	}
	slices.SortFunc(all, func(a, b SessionInfo) int { return strings.Compare(a.ClientID, b.ClientID) })
	return SessionPage{Total: len(all), Sessions: page(all, q.Offset, q.Limit)}
}

// Session returns the session of clientID, or ErrNoSession. Cost: one registry lookup and one
// session lock.
func (n *Node) Session(clientID string) (SessionInfo, error) {
	s := n.reg.Get(clientID)
	if s == nil {
		return SessionInfo{}, ErrNoSession
	}
	si, ok := sessionInfo(s)
	if !ok {
		return SessionInfo{}, ErrNoSession
	}
	return si, nil
}

// allSessions returns the registered sessions; the registry's shard locks are not held while
// the caller locks them.
func (n *Node) allSessions() []*sessions.Session {
	list := make([]*sessions.Session, 0, n.reg.Len())
	n.reg.Range(func(s *sessions.Session) bool {
		list = append(list, s)
		return true
	})
	return list
}

func sessionInfo(s *sessions.Session) (SessionInfo, bool) {
	si := SessionInfo{ClientID: s.ClientID, CreatedAt: time.Unix(0, s.Created), Durable: s.Durable.Load()}
	s.Lock()
	defer s.Unlock()
	if s.Gone {
		return si, false
	}
	si.Connected = s.Owner != nil
	si.ExpiryInterval = s.ExpiryInterval
	if s.ExpiresAt != 0 {
		si.ExpiresAt = time.Unix(0, s.ExpiresAt)
	}
	si.SessionCounts = countsOf(s)
	si.Last = lastOf(s)
	return si, true
}

// SubscriptionInfo is one subscription of a client's session: the filter as stored (under
// the mountpoint, with any $share/$queue prefix) and its options.
type SubscriptionInfo struct {
	ClientID string
	Filter   string
	Options  trie.Options
}

// ClientSubscriptions returns the subscriptions of clientID's session in the order they were
// made, or ErrNoSession. Cost: one registry lookup and one session lock.
func (n *Node) ClientSubscriptions(clientID string) ([]SubscriptionInfo, error) {
	s := n.reg.Get(clientID)
	if s == nil {
		return nil, ErrNoSession
	}
	s.Lock()
	defer s.Unlock()
	if s.Gone {
		return nil, ErrNoSession
	}
	out := make([]SubscriptionInfo, len(s.Subs))
	for i, sub := range s.Subs {
		out[i] = SubscriptionInfo{ClientID: s.ClientID, Filter: sub.Filter, Options: sub.Options}
	}
	return out, nil
}

// Subscriptions lists every session's subscriptions, ordered by client id then filter, and
// pages them (limit 0: no cap); total is how many there are in all. Cost: one walk of the
// registry and one session lock per session.
func (n *Node) Subscriptions(offset, limit int) (total int, subs []SubscriptionInfo) {
	var all []SubscriptionInfo
	for _, s := range n.allSessions() {
		s.Lock()
		if !s.Gone {
			for _, sub := range s.Subs {
				all = append(all, SubscriptionInfo{ClientID: s.ClientID, Filter: sub.Filter, Options: sub.Options})
			}
		}
		s.Unlock()
	}
	slices.SortFunc(all, func(a, b SubscriptionInfo) int {
		if c := strings.Compare(a.ClientID, b.ClientID); c != 0 {
			return c
		}
		return strings.Compare(a.Filter, b.Filter)
	})
	return len(all), page(all, offset, limit)
}

// SubscribeClient subscribes clientID's session to filter at qos as if the client had sent a
// SUBSCRIBE (without the ACL check: it is an administrator's act): the session, the durable
// store for a persistent session and the route. A connected client gets it on its own loop:
// its zone's mountpoint, max_qos_allowed and max_subscriptions apply, the Subscribed hooks
// run and the matching retained messages are sent. An offline session takes the filter as
// given and gets retained messages only as later publishes. Errors: ErrNoSession, ErrBadQoS,
// an invalid filter, the zone's max_subscriptions.
func (n *Node) SubscribeClient(ctx context.Context, clientID, filter string, qos uint8) error {
	if qos > 2 {
		return ErrBadQoS
	}
	if !trie.ValidFilter(filter) {
		return fmt.Errorf("engine: invalid topic filter %q", filter)
	}
	o := trie.Options{QoS: qos}
	for range 3 { // the client may connect or go between the two steps: look again
		if c := n.ownerOf(clientID); c != nil {
			type answer struct {
				done bool
				err  error
			}
			a, err := runOnLoop(ctx, c.loop, func() answer {
				if !c.online() {
					return answer{}
				}
				code, mounted, retained := c.addSubscription([]byte(filter), o)
				switch {
				case code == codec.QuotaExceeded:
					return answer{true, fmt.Errorf("engine: client %q is at its zone's max_subscriptions", clientID)}
				case code >= 0x80:
					return answer{true, fmt.Errorf("engine: topic filter %q refused", filter)}
				}
				if retained {
					c.sendRetained(mounted, uint8(code), 0)
				}
				return answer{done: true}
			})
			if err != nil {
				return err
			}
			if a.done {
				return a.err
			}
			continue
		}
		s := n.reg.Get(clientID)
		if s == nil {
			return ErrNoSession
		}
		s.Lock()
		if s.Gone || s.Owner != nil {
			s.Unlock()
			continue
		}
		have, existed := s.Subscription(filter)
		same := existed && have == o
		// The route is added under the session lock (as discardLocked removes routes), so a
		// session expiring meanwhile cannot keep a stale route.
		if _, err := n.indexSubscribe(filter, s, o); err != nil {
			s.Unlock()
			return fmt.Errorf("engine: topic filter %q refused: %w", filter, err)
		}
		s.Subscribe(filter, o)
		if s.Durable.Load() && !same {
			n.dur.subscribed(s, filter, o)
		}
		s.Unlock()
		if h := n.hooks.Load(); h != nil {
			for _, f := range h.subscribed {
				f(clientID, filter, o)
			}
		}
		return nil
	}
	return fmt.Errorf("engine: client %q kept connecting and disconnecting; try again", clientID)
}

// UnsubscribeClient removes clientID's subscription to filter as an UNSUBSCRIBE would (a
// connected client's mountpoint applies) and reports whether it existed. Errors:
// ErrNoSession, a loop that does not answer.
func (n *Node) UnsubscribeClient(ctx context.Context, clientID, filter string) (bool, error) {
	for range 3 {
		if c := n.ownerOf(clientID); c != nil {
			type answer struct{ done, existed bool }
			a, err := runOnLoop(ctx, c.loop, func() answer {
				if !c.online() {
					return answer{}
				}
				h := c.loop.hooks
				return answer{true, n.dropSubscription(c.sess, c.mountFilter([]byte(filter)), h)}
			})
			if err != nil {
				return false, err
			}
			if a.done {
				return a.existed, nil
			}
			continue
		}
		s := n.reg.Get(clientID)
		if s == nil {
			return false, ErrNoSession
		}
		s.Lock()
		offline := !s.Gone && s.Owner == nil
		s.Unlock()
		if s.Gone {
			return false, ErrNoSession
		}
		if offline {
			return n.dropSubscription(s, filter, n.hooks.Load()), nil
		}
	}
	return false, fmt.Errorf("engine: client %q kept connecting and disconnecting; try again", clientID)
}

// dropSubscription removes s's subscription to filter (as stored) from the session, the
// durable store and the routes, and runs the Unsubscribed hooks of h.
func (n *Node) dropSubscription(s *sessions.Session, filter string, h *hookSet) bool {
	s.Lock()
	existed := !s.Gone && s.Unsubscribe(filter)
	if existed {
		if s.Durable.Load() {
			n.dur.unsubscribed(s, filter)
		}
		n.indexUnsubscribe(filter, s)
	}
	s.Unlock()
	if existed && h != nil {
		for _, f := range h.unsubscribed {
			f(s.ClientID, filter)
		}
	}
	return existed
}

// Route is one topic filter of the routing table: the node that has subscribers to it, how
// many subscriptions it has (plain ones plus members of its shared groups, internal
// subscribers included) and the client ids of the sessions subscribed to it (a
// "$share/g/f" or "$queue/f" subscription counts for f).
type Route struct {
	Filter      string
	Node        string
	Subscribers int
	ClientIDs   []string // sorted
}

// Routes lists the routing table, ordered by filter. Cost: one walk of the subscription
// index (no lock) and one of the session registry with a brief session lock each, on the
// caller's goroutine.
func (n *Node) Routes() []Route {
	var routes []Route
	n.subs.Filters(func(filter string, subscribers int) bool {
		routes = append(routes, Route{Filter: filter, Node: n.cfg.NodeName, Subscribers: subscribers})
		return true
	})
	slices.SortFunc(routes, func(a, b Route) int { return strings.Compare(a.Filter, b.Filter) })
	routes = slices.CompactFunc(routes, func(a, b Route) bool { return a.Filter == b.Filter })
	for _, s := range n.allSessions() {
		s.Lock()
		if !s.Gone {
			for _, sub := range s.Subs {
				if i, ok := slices.BinarySearchFunc(routes, plainFilter(sub.Filter), func(r Route, f string) int { return strings.Compare(r.Filter, f) }); ok {
					routes[i].ClientIDs = append(routes[i].ClientIDs, s.ClientID)
				}
			}
		}
		s.Unlock()
	}
	for i := range routes {
		slices.Sort(routes[i].ClientIDs)
	}
	return routes
}

// Topics returns the topic filters of the routing table, sorted (EMQX's topic table: one
// entry per filter with subscribers on this node). Cost: one walk of the subscription index.
func (n *Node) Topics() []string {
	var topics []string
	n.subs.Filters(func(filter string, _ int) bool {
		topics = append(topics, filter)
		return true
	})
	slices.Sort(topics)
	return slices.Compact(topics)
}

// plainFilter strips a $share/<group>/ or $queue/ prefix.
func plainFilter(f string) string {
	if rest, ok := strings.CutPrefix(f, "$queue/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i+1:]
		}
	}
	return f
}
