package engine

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// Probes of the event loops for the $SYS service's sysmon equivalents: how long a loop takes
// to pick up a task (EMQX's long_schedule: a process that kept the scheduler too long), and
// which connections keep a large output backlog (EMQX's busy_port: a port whose send queue is
// full). Both cost the loops nothing until asked: a probe is one task per loop.

// LoopLag is how long one event loop took to run a task handed to it: the time it was busy
// with other callbacks first.
type LoopLag struct {
	Loop int
	Lag  time.Duration
	// Answered is false when the loop did not run the probe before ctx ended: Lag is then the
	// time waited, a lower bound.
	Answered bool
}

// LoopLags hands a no-op task to every event loop known to the node (a loop is known once a
// connection opened on it) at once and measures how long each took to run it, waiting at
// most until ctx is done. Safe from any goroutine but an event loop.
func (n *Node) LoopLags(ctx context.Context) []LoopLag {
	loops := *n.loops.Load()
	out := make([]LoopLag, len(loops))
	type answer struct {
		i  int
		at time.Time
	}
	answers := make(chan answer, len(loops)) // buffered: a late probe never blocks its loop
	sent := time.Now()
	pending := 0
	for i, l := range loops {
		out[i].Loop = l.idx
		if l.el == nil {
			continue
		}
		if err := l.el.Execute(context.Background(), runFunc(func() { answers <- answer{i, time.Now()} })); err != nil {
			continue // stopping: not answered
		}
		pending++
	}
	for pending > 0 {
		select {
		case a := <-answers:
			out[a.i].Lag, out[a.i].Answered = a.at.Sub(sent), true
			pending--
		case <-ctx.Done():
			waited := time.Since(sent)
			for i := range out {
				if !out[i].Answered {
					out[i].Lag = waited
				}
			}
			return out
		}
	}
	return out
}

// BusyConn is a connection whose output backlog has stayed above its zone's high-water mark
// (Zone.HighWater): its client reads more slowly than it is sent to.
type BusyConn struct {
	ClientID string
	Peer     netip.AddrPort
	Pending  int       // bytes waiting to reach the socket now
	Since    time.Time // when the backlog went above the high-water mark
}

// BusyConnections lists the connections whose output backlog has been above the high-water
// mark for at least longer, oldest first. Cost: one task per loop, walking only its
// connections already marked slow. It fails when a loop does not answer in time or the node
// is stopping.
func (n *Node) BusyConnections(ctx context.Context, longer time.Duration) ([]BusyConn, error) {
	var all []BusyConn
	for _, l := range *n.loops.Load() {
		if l.el == nil {
			continue
		}
		got, err := runOnLoop(ctx, l, func() []BusyConn {
			var out []BusyConn
			for _, c := range l.slow {
				if c.state == stateConnected && c.has(flagSlow) && l.now-c.slowSince >= int64(longer) {
					out = append(out, BusyConn{ClientID: c.clientID, Peer: c.remote(), Pending: c.pending(), Since: time.Unix(0, c.slowSince)})
				}
			}
			return out
		})
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	slices.SortFunc(all, func(a, b BusyConn) int { return a.Since.Compare(b.Since) })
	return all, nil
}
