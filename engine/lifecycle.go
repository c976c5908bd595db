package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

var errShutdown = gerrors.ErrEngineInShutdown

// runFunc adapts a function to gnet.Runnable.
type runFunc func()

func (f runFunc) Run(context.Context) error { f(); return nil }

var _ gnet.Runnable = runFunc(nil)

// handleDisconnect handles a client's DISCONNECT: no will unless MQTT 5 reason 0x04, and an
// MQTT 5 client may change its session expiry interval.
func (c *conn) handleDisconnect(pkt []byte) error {
	l := c.loop
	d := &l.disc
	if err := d.Decode(pkt, c.version); err != nil {
		return err
	}
	l.stats.DisconnectIn++
	if c.version == codec.V5 && d.Props.Has(codec.PropSessionExpiry) {
		s := c.sess
		s.Lock()
		if s.ExpiryInterval == 0 && d.Props.SessionExpiry != 0 {
			s.Unlock()
			return errExpiryOnClose // [MQTT-3.14.2-2]
		}
		if s.Owner == c {
			s.ExpiryInterval = d.Props.SessionExpiry
		}
		s.Unlock()
	}
	if d.Code != codec.DisconnectWithWillMessage {
		c.will = nil // [MQTT-3.14.4-3]
		c.set(flagNormalDisconnect)
	}
	c.state = stateClosing
	c.closeCode = d.Code
	_ = c.tr.Close()
	return nil
}

// handleAuth refuses AUTH: no enhanced authentication method is configured, so the client
// could not have started an exchange [MQTT-4.12.0-1].
func (c *conn) handleAuth(pkt []byte) error {
	if c.version != codec.V5 {
		return errServerPacket
	}
	a := &c.loop.auth
	c.loop.stats.AuthIn++
	if err := a.Decode(pkt, c.version); err != nil {
		return err
	}
	return errAuthUnsupported
}

// onClose runs when the socket is gone: the session goes offline (or ends), the will is
// published or scheduled.
//
// A connection closed before its CONNECT completed (never sent one, or hung up while the
// authenticator was deciding) has no session and no will to publish: it only moves to
// stateClosed, so that a late answer of the authenticator finds it gone.
func (c *conn) onClose(err error) {
	l := c.loop
	n := l.n
	prev := c.state
	c.state = stateClosed
	if prev == stateNew || prev == stateAuth || c.sess == nil {
		c.will = nil
		c.releaseOutput()
		return
	}
	var reason string
	switch {
	case c.has(flagNormalDisconnect) || c.closeCode == codec.DisconnectWithWillMessage && prev == stateClosing && err == nil:
		reason = "client sent DISCONNECT"
	case c.closeCode != 0:
		reason = c.closeCode.String()
	case err != nil:
		reason = err.Error()
	default:
		reason = "closed by the broker"
	}
	if n.log.Enabled(context.Background(), slog.LevelInfo) { // no argument garbage when off
		n.log.Info("client disconnected", "client", c.clientID, "peer", c.peer.String(), "reason", reason)
	}
	if h := l.hooks; h != nil && len(h.disconnected) > 0 {
		ev := c.clientEvent()
		for _, f := range h.disconnected {
			f(ev, reason)
		}
	}
	s := c.sess
	now := l.now
	s.Lock()
	mine := s.Owner == c
	ended := false
	if mine {
		s.Owner = nil
		s.Home.Store(-1)
		if s.ExpiryInterval == 0 {
			ended = true
		} else if s.ExpiryInterval != sessions.NeverExpire {
			s.ExpiresAt = now + int64(s.ExpiryInterval)*1e9
		}
	} else if s.Gone {
		ended = true // taken over by a clean-start connection: the old session ended
	}
	// Will: sent on every close but a normal DISCONNECT [MQTT-3.1.2-8]; delayed by the
	// Will Delay Interval unless the session ends first [MQTT-3.1.3-9].
	var will *sessions.Message
	if c.will != nil && !c.has(flagNormalDisconnect) {
		switch {
		case c.will.delay == 0 || ended:
			will = c.will.msg
		case c.has(flagTakenOver) && !s.Gone:
			// The session continues on the new connection within the delay: no will.
		case mine:
			delay := int64(c.will.delay) * 1e9
			if s.ExpiresAt != 0 && s.ExpiresAt-now < delay {
				delay = s.ExpiresAt - now
			}
			s.DelayedWill, s.WillAt = c.will.msg, now+delay
			n.timers.add(s.WillAt, s)
		}
	}
	if mine && !ended && s.ExpiresAt != 0 {
		n.timers.add(s.ExpiresAt, s)
	}
	if mine && !ended {
		c.recordLast(s, reason, now)
		n.saveState(s) // offline: expiry deadline, delayed will
	}
	s.Unlock()
	if ended && mine {
		n.endSession(s, "connection closed with session expiry 0")
	}
	if will != nil {
		l.stats.WillsSent++
		n.publishWill(l, will, s)
	}
	c.will = nil
	c.releaseOutput()
}

// releaseOutput gives the output buffers of a closed connection back to its loop.
func (c *conn) releaseOutput() {
	l := c.loop
	if c.out != nil {
		l.putBuf(c.out)
		c.out = nil
	}
	if c.iov != nil {
		l.putIovec(c.iov)
		c.iov = nil
	}
}

// endSession removes a session that ended (expiry interval 0 on close, or expired) from the
// registry, unless a new connection took it meanwhile. reason is for the hooks.
func (n *Node) endSession(s *sessions.Session, reason string) {
	n.reg.Update(s.ClientID, func(cur *sessions.Session) *sessions.Session {
		if cur != s {
			return cur
		}
		s.Lock()
		defer s.Unlock()
		if s.Owner != nil {
			return cur // reconnected
		}
		n.discardLocked(s, reason)
		return nil
	})
}

// publishWill routes a will message (on loop l, or the side loop when l is nil) after the
// ACL check, and stores it if it is retained.
func (n *Node) publishWill(l *loop, will *sessions.Message, s *sessions.Session) {
	if will.Retain {
		n.retain(l, will, false)
	}
	if l == nil {
		n.sideRoute(will, s, nil)
		return
	}
	l.published(will, l.route(will, s, nil))
}

// sideRoute routes a message from outside the event loops (timers, API, $SYS).
func (n *Node) sideRoute(msg *sessions.Message, pub *sessions.Session, z *Zone) int {
	l := n.sideLoop()
	l.side.Lock()
	defer l.side.Unlock()
	l.begin()
	k := l.route(msg, pub, z)
	l.published(msg, k)
	l.end()
	return k
}

// Publish routes a message on behalf of the broker or an API client: it is retained if
// asked, and delivered to every matching subscription. Safe from any goroutine; never call
// it from an event loop callback. It returns how many sessions received it.
func (n *Node) Publish(topic string, payload []byte, qos uint8, retain bool, from string) (int, error) {
	return n.publish(topic, payload, qos, retain, from, nil)
}

// publish is Publish with the publishing session handle (for No Local), nil for none.
func (n *Node) publish(topic string, payload []byte, qos uint8, retain bool, from string, pub *sessions.Session) (int, error) {
	if err := codec.ValidTopicName([]byte(topic)); err != nil {
		return 0, err
	}
	if tooDeep([]byte(topic), trie.MaxLevels) {
		return 0, errIndexLevels
	}
	if qos > 2 {
		return 0, codec.QoSNotSupported
	}
	p := codec.Publish{QoS: qos, Retain: retain, Topic: []byte(topic), Payload: payload}
	msg := sessions.NewMessage(&p, p.Topic, from, time.Now().UnixNano())
	if retain {
		n.retain(nil, msg, false)
	}
	return n.sideRoute(msg, pub, nil), nil
}

func (n *Node) sideLoop() *loop {
	n.loopsMu.Lock()
	defer n.loopsMu.Unlock()
	if n.side == nil {
		n.side = newLoop(n, nil, -1)
	}
	return n.side
}

// shutdownConns asks every loop to tell its MQTT 5 clients DISCONNECT 0x8B and close, and
// waits (bounded) until the loops did it.
func (n *Node) shutdownConns() {
	loops := *n.loops.Load()
	done := make(chan struct{}, len(loops))
	asked := 0
	for _, l := range loops {
		l := l
		err := l.el.Execute(context.Background(), runFunc(func() {
			l.begin()
			for _, c := range l.conns {
				c.closeWith(codec.ServerShuttingDown, "broker shutting down")
			}
			l.end()
			done <- struct{}{}
		}))
		if err == nil {
			asked++
		} else if !errors.Is(err, errShutdown) {
			n.log.Warn("cannot reach an event loop at shutdown", "error", err)
		}
	}
	timeout := time.After(5 * time.Second)
	for range asked {
		select {
		case <-done:
		case <-timeout:
			return
		}
	}
}
