package engine

import (
	"errors"

	"github.com/emqgo/emqgo/sessions"
)

// ErrSessionOnline: the session's client is connected (CleanSession refuses it).
var ErrSessionOnline = errors.New("engine: the session's client is connected")

// CleanSession ends the offline session of clientID now, as if it had expired (EMQX 3.x's
// `sessions clean-persistent`): a will still waiting for its delay is published, and the
// session's subscriptions and queued and in-flight messages are discarded (also from the
// durable store; the queued ones count as dropped). ErrNoSession when there is none,
// ErrSessionOnline while its client is connected. Cost: one registry update with one session
// lock, on the caller's goroutine; no loop is involved.
func (n *Node) CleanSession(clientID string) error {
	var err error
	var will *sessions.Message
	var ended *sessions.Session
	n.reg.Update(clientID, func(cur *sessions.Session) *sessions.Session {
		if cur == nil {
			err = ErrNoSession
			return nil
		}
		cur.Lock()
		defer cur.Unlock()
		if cur.Owner != nil {
			err = ErrSessionOnline
			return cur
		}
		will, cur.DelayedWill = cur.DelayedWill, nil
		n.discardLocked(cur, "cleaned by the management API")
		ended = cur
		return nil
	})
	if will != nil {
		n.stats.willsSent.Add(1)
		n.publishWill(nil, will, ended)
	}
	return err
}
