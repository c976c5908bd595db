package engine

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// persistState is the node's side of the durable store (Config.Store).
type persistState struct {
	refusing atomic.Bool   // the last write was refused by the store (logged once per change)
	refused  atomic.Uint64 // writes the store refused: the state stays in memory only
	failed   atomic.Uint64 // commits that reported an error
}

// persistRetained writes the retained message of topic to the store (msg nil: its deletion).
// It never waits for the disk, and reports whether the write was accepted, i.e. whether a
// following Commit covers it. A refused write is counted and logged once per change of
// state; the retained message stays in memory.
func (n *Node) persistRetained(topic string, msg *sessions.Message) bool {
	st := n.cfg.Store
	if st == nil {
		return false
	}
	var err error
	if msg == nil {
		err = st.DeleteRetained(topic)
	} else {
		err = st.PutRetained(topic, msg)
	}
	p := &n.persist
	if err != nil {
		p.refused.Add(1)
		if p.refusing.CompareAndSwap(false, true) {
			n.log.Warn("durable store refuses writes: retained messages are kept in memory only until it recovers", "topic", topic, "cause", err)
		}
		return false
	}
	if p.refusing.Load() && p.refusing.CompareAndSwap(true, false) {
		n.log.Info("durable store accepts writes again")
	}
	return true
}

// ackDurable sends a PUBACK or PUBREC once every write the store accepted so far (the
// retained message of this publish among them) is durable, so that an acknowledged retained
// message survives a crash. While such an acknowledgement is held, later ones of the same
// connection queue behind it (Commit callbacks run in order), which keeps acknowledgements in
// the order of the publishes. Called on c's loop; the loop never waits.
func (c *conn) ackDurable(t codec.PacketType, id uint16, code codec.ReasonCode) {
	l := c.loop
	n := l.n
	c.held++
	n.cfg.Store.Commit(func(err error) {
		if err != nil {
			n.persist.failed.Add(1)
		}
		// On the store's writer goroutine: hand the acknowledgement back to the loop.
		if xerr := l.el.Execute(context.Background(), runFunc(func() {
			c.held--
			if c.state != stateConnected {
				return
			}
			l.begin()
			c.sendAck(t, id, code, "")
			l.end()
		})); xerr != nil {
			n.log.Debug("acknowledgement dropped: engine stopping", "client", c.clientID)
		}
	})
}

// closeStore flushes and closes the store once the loops have stopped.
func (n *Node) closeStore() {
	st := n.cfg.Store
	if st == nil {
		return
	}
	if err := st.Close(); err != nil && !errors.Is(err, kvlog.ErrClosed) {
		n.log.Error("durable store: final flush failed", "error", err)
	}
}
