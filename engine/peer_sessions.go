package engine

import (
	"context"
	"errors"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// Sessions that move between the nodes of a cluster.
//
// A CONNECT for a client identifier whose session lives on another node (the SessionLocator
// says so) takes the asynchronous path of authentication: on the side pool, after the
// authentication chain, the locator fetches the session from that node, which hands it over
// (HandOver: its connection, if any, ends with 0x8E, the session is encoded with
// sessions.EncodeTransfer and leaves that node: routes withdrawn, records deleted). Back on
// the connection's loop the session is adopted (its subscriptions indexed here, so the
// cluster announces them from this node) before the usual attach, which resumes it: Session
// Present 1, inflight messages sent again with DUP, queued ones after. A clean start asks the
// other node to discard its session and starts fresh. If the other node does not answer in
// remoteSessionTimeout, the connection starts fresh too (logged). Without a locator none of
// this runs: a CONNECT costs one nil check.

// remoteSessionTimeout bounds how long a CONNECT waits for another node's session.
const remoteSessionTimeout = 3 * time.Second

// SessionLocator finds sessions on other nodes of a cluster (the cluster service implements
// it). Install it with SetSessionLocator.
type SessionLocator interface {
	// Elsewhere reports whether clientID's session may live on another node. It is called on
	// the event loops for every CONNECT with a client identifier: it must return at once,
	// never block and never call back into the Node.
	Elsewhere(clientID string) bool
	// Fetch asks the node that holds clientID's session to hand it over (HandOver there)
	// and returns what HandOver returned there: the session's transfer encoding, or nil when
	// that node had none to give (clean is true, the session ended or was not there). It
	// runs on the side pool and must respect ctx.
	Fetch(ctx context.Context, clientID string, clean bool) ([]byte, error)
}

// SetSessionLocator installs the cluster's session locator. Call it once, before Start.
func (n *Node) SetSessionLocator(l SessionLocator) error {
	if !n.started.IsZero() {
		return errors.New("engine: SetSessionLocator must be called before Start")
	}
	n.locator = l
	return nil
}

// fetchSession asks the locator for clientID's session; nil when there is none to resume
// (or the other node did not answer: logged). Runs on the side pool.
func (n *Node) fetchSession(clientID string, clean bool) *sessions.Transfer {
	ctx, cancel := context.WithTimeout(context.Background(), remoteSessionTimeout)
	defer cancel()
	b, err := n.locator.Fetch(ctx, clientID, clean)
	if err != nil {
		n.log.Warn("session on another node not taken over: starting a new one", "client", clientID, "error", err)
		return nil
	}
	if b == nil || clean {
		return nil
	}
	tr, err := sessions.DecodeTransfer(b)
	if err == nil && tr.ClientID != clientID {
		err = errors.New("the transfer names client " + tr.ClientID)
	}
	if err != nil {
		n.log.Warn("session from another node refused: starting a new one", "client", clientID, "error", err)
		return nil
	}
	return tr
}

// adoptMoved registers the session that another node handed over, offline, so that attach
// resumes it. A session of the same client id created here meanwhile wins. Runs on c's loop.
func (n *Node) adoptMoved(c *conn, tr *sessions.Transfer) {
	n.reg.Update(tr.ClientID, func(cur *sessions.Session) *sessions.Session {
		if cur != nil {
			n.log.Warn("session from another node dropped: a session of the same client exists here", "client", tr.ClientID)
			return cur
		}
		return n.newMovedLocked(tr, c.lis.Zone.MaxMqueueLen, c.loop.now)
	})
}

// HandOver gives clientID's session away to another node of the cluster, where the client
// just connected: the connection here, if any, ends with DISCONNECT 0x8E (MQTT 5; 3.x:
// closed), and the session leaves this node (routes withdrawn, durable records deleted,
// SessionTerminated "taken over by another node"). Unless clean, a session that would
// resume here (expiry interval above 0, not expired) is returned in the transfer encoding
// (sessions.EncodeTransfer); otherwise it is discarded here and HandOver returns nil. Wills:
// a will without delay goes out as the connection ends; a delayed will does not when the
// session moves (the client is back), and goes out at once when the session is discarded.
// ErrNoSession: no session of clientID here. Safe from any goroutine but the loops.
func (n *Node) HandOver(ctx context.Context, clientID string, clean bool) ([]byte, error) {
	return n.handOver(ctx, clientID, clean, nil)
}

// handOver is HandOver; a session that moves becomes relay r's when r is not nil
// (HandOverRelay, peer_relay.go).
func (n *Node) handOver(ctx context.Context, clientID string, clean bool, r *Relay) ([]byte, error) {
	for range 3 { // a connection that closes meanwhile leaves its session offline: again
		s := n.reg.Get(clientID)
		if s == nil {
			return nil, ErrNoSession
		}
		c := n.ownerOf(clientID)
		if c == nil {
			b, done := n.handOverOffline(s, clean, r)
			if done {
				return b, nil
			}
			continue
		}
		type result struct {
			b    []byte
			done bool
		}
		res, err := runOnLoop(ctx, c.loop, func() result {
			b, done := n.handOverOnLoop(c, clientID, clean, r)
			return result{b, done}
		})
		if err != nil {
			return nil, err
		}
		if res.done {
			return res.b, nil
		}
	}
	return nil, errors.New("engine: the session kept changing hands during the takeover")
}

// handOverOnLoop is handOver for clientID's session, online on connection c, on c's loop; done is false
// when c is no longer online with it. A session that moves as relay r's keeps this loop as
// its home: deliveries matched before the hand-over may still be on their way here (in a
// loop's outbox or this loop's inbox), and those matched after must not overtake them in
// the relay (each publisher's order, peer_relay.go).
func (n *Node) handOverOnLoop(c *conn, clientID string, clean bool, r *Relay) (out []byte, done bool) {
	if !c.online() {
		return nil, false
	}
	n.reg.Update(clientID, func(cur *sessions.Session) *sessions.Session {
		if cur != c.sess {
			return cur
		}
		s := cur
		s.Lock()
		defer s.Unlock()
		s.Owner = nil
		out = n.moveOutLocked(s, clean, c.loop.now, r)
		if out == nil || r == nil { // no relay: nothing more is delivered to s
			s.Home.Store(-1)
		}
		if out != nil && c.will != nil && c.will.delay > 0 {
			c.will = nil // the session continues elsewhere within the delay [MQTT-3.1.3-9]
		}
		done = true
		return nil
	})
	if done {
		c.set(flagTakenOver)
		c.closeWith(codec.SessionTakenOver, "session taken over by a connection on another node")
	}
	return out, done
}

// handOverOffline hands over or discards the offline session s; done is false when s is
// no longer the registered offline session (reconnected or replaced meanwhile).
func (n *Node) handOverOffline(s *sessions.Session, clean bool, r *Relay) (out []byte, done bool) {
	now := time.Now().UnixNano()
	n.reg.Update(s.ClientID, func(cur *sessions.Session) *sessions.Session {
		if cur != s {
			return cur
		}
		s.Lock()
		defer s.Unlock()
		if s.Owner != nil {
			return cur
		}
		out, done = n.moveOutLocked(s, clean, now, r), true
		return nil
	})
	return out, done
}

// moveOutLocked ends s here for a connection on another node: encoded and removed when it
// would resume, discarded otherwise (nil). A session that moves stays indexed as relay r's
// when r is not nil. The caller removes s from the registry. Hold s's lock.
func (n *Node) moveOutLocked(s *sessions.Session, clean bool, now int64, r *Relay) []byte {
	s.DelayedWill = nil // the client is back [MQTT-3.1.3-9]
	if reason := endReason(s, clean, now); reason != "" {
		n.discardLocked(s, reason)
		return nil
	}
	out := sessions.EncodeTransfer(nil, s)
	s.Gone = true
	if r != nil {
		n.startRelayLocked(s, r)
	} else {
		for _, sub := range s.Subs {
			n.indexUnsubscribe(sub.Filter, s)
		}
	}
	if s.ExpiryInterval != 0 {
		n.reg.AddPersistent(-1)
	}
	n.dur.dropRecords(s)
	s.Reset()
	n.terminated(s.ClientID, "taken over by another node")
	return out
}

// PublishWill publishes msg as a will on behalf of another node of the cluster (one that
// died with the client connected): retained if its RETAIN flag is set, routed to this node's
// subscribers and forwarded to the other nodes like any local publish. msg is not modified;
// it must not be a pooled message. Counted as a will sent. Safe from any goroutine but the
// loops.
func (n *Node) PublishWill(msg *sessions.Message) {
	n.stats.willsSent.Add(1)
	n.publishWill(nil, msg, nil)
}
