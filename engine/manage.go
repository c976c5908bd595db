package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// The management API: what emqx_ctl, the HTTP API and other side services read and change
// about clients, sessions, subscriptions and routes. Every method is safe from any goroutine
// that is not an event loop (never call them from a hook).
//
// Two ways in, chosen per datum so that no loop waits on a caller:
//   - Connection state belongs to its event loop: it is read (and a kick or a subscription of
//     an online client is made) by a task the loop runs between two rounds of traffic (gnet
//     Execute), whose answer the caller waits for, at most manageTimeout or until its ctx is
//     done. A listing walks a loop's connections in tasks of scanChunk connections, so that
//     one listing over half a million connections never holds a loop for long.
//   - Session state (subscriptions, queue, in-flight window) is read under the session lock,
//     which loops hold only briefly; offline sessions are changed the same way.
//
// Snapshots are copies, owned by the caller. They are consistent per client, not across
// clients: a client that connects, disconnects or subscribes during a listing may or may not
// be in it.

// manageTimeout bounds the wait for one loop's answer when the caller's ctx has no earlier
// deadline.
const manageTimeout = 5 * time.Second

// scanChunk is how many connections one listing task looks at on a loop.
const scanChunk = 2048

// Errors of the management API.
var (
	// ErrNoClient: no connected client has this client id.
	ErrNoClient = errors.New("engine: no connected client with this client id")
	// ErrNoSession: no session (online or offline) has this client id.
	ErrNoSession = errors.New("engine: no session with this client id")
	// ErrBadQoS: a QoS outside 0..2.
	ErrBadQoS = errors.New("engine: QoS must be 0, 1 or 2")
)

// ClientSnapshot is a snapshot of one connected client.
type ClientSnapshot struct {
	ClientID     string
	Username     string
	Peer         netip.AddrPort
	Listener     string // the listener's name ("external")
	Zone         string
	ProtoVersion codec.Version
	KeepAlive    uint16 // seconds, as in force (the server keep alive when one is set)
	CleanStart   bool
	ConnectedAt  time.Time
	// Session state at the same moment.
	CreatedAt      time.Time // when the session was created
	ExpiryInterval uint32    // session expiry interval, seconds; sessions.NeverExpire: never
	SessionCounts
	// Traffic of the connection so far.
	Counters ConnCounters
}

// SessionCounts are the sizes of a session's state at one moment.
type SessionCounts struct {
	Subscriptions int
	Inflight      int // QoS 1/2 deliveries sent and not yet acknowledged
	MaxInflight   int // the in-flight window
	QueueLen      int // messages waiting for the in-flight window or the socket
	AwaitingRel   int // inbound QoS 2 messages waiting for PUBREL
}

// countsOf reads s's sizes. Hold s's lock.
func countsOf(s *sessions.Session) SessionCounts {
	return SessionCounts{
		Subscriptions: len(s.Subs),
		Inflight:      s.Window.Len(),
		MaxInflight:   s.Window.Cap(),
		QueueLen:      s.Queue.Len(),
		AwaitingRel:   s.Pending.Len(),
	}
}

// ClientQuery selects and pages clients. Zero fields select everything.
type ClientQuery struct {
	ClientID     string // exact
	Username     string // exact
	IP           netip.Addr
	Listener     string
	ProtoVersion codec.Version
	CleanStart   *bool
	LikeClientID string // substring
	LikeUsername string // substring
	// ConnectedAfter and ConnectedBefore bound ConnectedAt, both inclusive.
	ConnectedAfter, ConnectedBefore time.Time
	// Offset skips that many matching clients; Limit caps the page (0: no cap).
	Offset, Limit int
}

func (q *ClientQuery) match(c *conn) bool {
	switch {
	case q.ClientID != "" && c.clientID != q.ClientID,
		q.Username != "" && c.username != q.Username,
		q.IP.IsValid() && c.peer != q.IP.Unmap(),
		q.Listener != "" && c.lis.Name != q.Listener,
		q.ProtoVersion != 0 && c.version != q.ProtoVersion,
		q.CleanStart != nil && c.has(flagCleanStart) != *q.CleanStart,
		q.LikeClientID != "" && !strings.Contains(c.clientID, q.LikeClientID),
		q.LikeUsername != "" && !strings.Contains(c.username, q.LikeUsername),
		!q.ConnectedAfter.IsZero() && c.connectedAt < q.ConnectedAfter.UnixNano(),
		!q.ConnectedBefore.IsZero() && c.connectedAt > q.ConnectedBefore.UnixNano():
		return false
	}
	return true
}

// ClientPage is one page of clients and how many matched in all.
type ClientPage struct {
	Total   int
	Clients []ClientSnapshot
}

// Clients lists the connected clients that match q, ordered by connection time then client
// id. Cost: every loop runs one task per scanChunk of its connections; memory is one
// ClientSnapshot per matching client (before paging). It fails when a loop does not answer in
// time or the node is stopping.
func (n *Node) Clients(ctx context.Context, q ClientQuery) (ClientPage, error) {
	var all []ClientSnapshot
	for _, l := range *n.loops.Load() {
		from := 0
		for {
			type chunk struct {
				infos []ClientSnapshot
				next  int
			}
			start := from // the task may outlive a timed-out wait: it reads no variable the caller writes
			res, err := runOnLoop(ctx, l, func() chunk {
				var ch chunk
				end := min(start+scanChunk, len(l.conns))
				for _, c := range l.conns[min(start, end):end] {
					if c.state == stateConnected && q.match(c) {
						ch.infos = append(ch.infos, c.info())
					}
				}
				ch.next = end
				if end >= len(l.conns) {
					ch.next = -1
				}
				return ch
			})
			if err != nil {
				return ClientPage{}, err
			}
			all = append(all, res.infos...)
			if res.next < 0 {
				break
			}
			from = res.next
		}
	}
	slices.SortFunc(all, func(a, b ClientSnapshot) int {
		if c := a.ConnectedAt.Compare(b.ConnectedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	// A connection moved by a removal between two chunks may have been seen twice.
	all = slices.CompactFunc(all, func(a, b ClientSnapshot) bool { return a.ClientID == b.ClientID && a.ConnectedAt.Equal(b.ConnectedAt) })
	return ClientPage{Total: len(all), Clients: page(all, q.Offset, q.Limit)}, nil
}

// Client returns the connected client clientID, or ErrNoClient. Cost: one registry lookup and
// one task on the client's loop.
func (n *Node) Client(ctx context.Context, clientID string) (ClientSnapshot, error) {
	c := n.ownerOf(clientID)
	if c == nil {
		return ClientSnapshot{}, ErrNoClient
	}
	type answer struct {
		info ClientSnapshot
		ok   bool
	}
	a, err := runOnLoop(ctx, c.loop, func() answer {
		if !c.online() {
			return answer{}
		}
		return answer{c.info(), true}
	})
	if err != nil {
		return ClientSnapshot{}, err
	}
	if !a.ok {
		return ClientSnapshot{}, ErrNoClient
	}
	return a.info, nil
}

// Kick disconnects the connected client clientID as an administrative action: an MQTT 5
// client gets DISCONNECT 0x98 first, a 3.x client's socket just closes. The session then
// lives on or ends by its expiry interval, and the will is published as for any close that is
// not a normal DISCONNECT. Returns ErrNoClient when no such client is connected. Cost: one
// task on the client's loop.
func (n *Node) Kick(ctx context.Context, clientID string) error {
	c := n.ownerOf(clientID)
	if c == nil {
		return ErrNoClient
	}
	ok, err := runOnLoop(ctx, c.loop, func() bool {
		if !c.online() {
			return false
		}
		c.closeWith(codec.AdministrativeAction, "kicked by the management API")
		return true
	})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoClient
	}
	return nil
}

// ownerOf returns the connection attached to clientID's session, nil when none.
func (n *Node) ownerOf(clientID string) *conn {
	s := n.reg.Get(clientID)
	if s == nil {
		return nil
	}
	s.Lock()
	c, _ := s.Owner.(*conn)
	s.Unlock()
	return c
}

// online reports, on c's loop, whether c is connected and still owns its session.
func (c *conn) online() bool {
	if c.state != stateConnected || c.sess == nil {
		return false
	}
	s := c.sess
	s.Lock()
	mine := s.Owner == c
	s.Unlock()
	return mine
}

// info snapshots c; on c's loop.
func (c *conn) info() ClientSnapshot {
	ci := ClientSnapshot{
		ClientID:     c.clientID,
		Username:     c.username,
		Peer:         c.remote(),
		Listener:     c.lis.Name,
		Zone:         c.lis.Zone.Name,
		ProtoVersion: c.version,
		KeepAlive:    c.keepAlive,
		CleanStart:   c.has(flagCleanStart),
		ConnectedAt:  time.Unix(0, c.connectedAt),
		Counters:     c.cnt,
	}
	if s := c.sess; s != nil {
		ci.CreatedAt = time.Unix(0, s.Created)
		s.Lock()
		ci.ExpiryInterval = s.ExpiryInterval
		ci.SessionCounts = countsOf(s)
		s.Unlock()
	}
	return ci
}

// runOnLoop runs fn on loop l inside a round (its output is written at the end of the round)
// and returns its result. It waits at most until ctx is done or manageTimeout passes; fn may
// still run after a timeout, so it must not share state with the caller but its result.
func runOnLoop[T any](ctx context.Context, l *loop, fn func() T) (T, error) {
	var zero T
	if l.el == nil {
		return zero, errors.New("BUG: management task for the side loop")
	}
	ctx, cancel := context.WithTimeout(ctx, manageTimeout)
	defer cancel()
	ch := make(chan T, 1)
	err := l.el.Execute(context.Background(), runFunc(func() {
		l.begin()
		v := fn()
		l.end()
		ch <- v
	}))
	if err != nil {
		if errors.Is(err, errShutdown) {
			return zero, errors.New("engine: the node is stopping")
		}
		return zero, fmt.Errorf("engine: cannot reach event loop %d: %w", l.idx, err)
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("engine: event loop %d did not answer: %w", l.idx, ctx.Err())
	}
}

// page returns items[offset:offset+limit], clamped; limit 0 means no cap.
func page[T any](items []T, offset, limit int) []T {
	offset = max(offset, 0)
	if offset >= len(items) {
		return nil
	}
	items = items[offset:]
	if limit > 0 && limit < len(items) {
		items = items[:limit]
	}
	return items
}
