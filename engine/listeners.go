package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Listeners at run time (emqx_ctl listeners, the HTTP API).
//
// gnet cannot close one listening socket of a running engine: every loop listens on every
// address. So "stop" here means: the listener refuses new connections (closed as soon as they
// are accepted, counted in connections.refused.listener_stopped and in the listener's summary
// line) and closes its current ones (MQTT 5 clients get DISCONNECT 0x8B first). The port stays
// bound. "start" undoes it; "restart" runs the listener's Reload hook (the TLS transport
// re-reads its certificate, key and CA files there), then stops and starts it; a running TLS
// listener only reloads (its established connections stay up).

// listenerCtl is a listener's run-time state: stopped by the control socket, and its refusal
// counts since the node started. Atomics: read and written from any goroutine.
type listenerCtl struct {
	stopped        atomic.Bool
	refusedProxy   atomic.Uint64 // no valid PROXY protocol header (proxy.go)
	refusedStopped atomic.Uint64 // accepted while stopped
	closedByStop   atomic.Uint64 // open when the listener was stopped
}

// ListenerInfo describes one listener the node serves, for emqx_ctl listeners.
type ListenerInfo struct {
	Kind, Name     string         // e.g. "tcp", "external"; the listener's id is Kind:Name
	Addr           netip.AddrPort // bound address
	Running        bool           // false once stopped by StopListener
	ProxyProtocol  bool
	Acceptors      int   // event loops accepting its connections (each loop accepts for itself)
	MaxConnections int   // 0: unlimited
	Connections    int64 // open now, whatever their state
	// Closed connections by cause, since the node started: no valid PROXY header,
	// accepted while stopped, closed by a stop.
	RefusedProxyProtocol, RefusedStopped, ClosedByStop uint64
}

// ID returns the listener's id, kind:name (e.g. tcp:external).
func (li *ListenerInfo) ID() string { return li.Kind + ":" + li.Name }

// Listeners returns every listener the node serves, sorted by kind and name. Safe for
// concurrent use; the counts are a snapshot.
func (n *Node) Listeners() []ListenerInfo {
	loops := n.cfg.LoopCount
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	out := make([]ListenerInfo, 0, len(n.byAddr))
	for a, ls := range n.byAddr {
		out = append(out, ListenerInfo{
			Kind:                 ls.Kind,
			Name:                 ls.Name,
			Addr:                 a,
			Running:              !ls.ctl.stopped.Load(),
			ProxyProtocol:        ls.ProxyProtocol,
			Acceptors:            loops,
			MaxConnections:       ls.MaxConnections,
			Connections:          ls.conns.Load(),
			RefusedProxyProtocol: ls.ctl.refusedProxy.Load(),
			RefusedStopped:       ls.ctl.refusedStopped.Load(),
			ClosedByStop:         ls.ctl.closedByStop.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ErrUnknownListener is returned for a listener id the node does not serve.
var ErrUnknownListener = errors.New("engine: no such listener")

// listenerByID finds a listener by kind:name; EMQX 4's form mqtt:kind:name is accepted too.
func (n *Node) listenerByID(id string) (*listenerState, error) {
	id = strings.TrimPrefix(id, "mqtt:")
	for _, ls := range n.byAddr {
		if ls.Kind+":"+ls.Name == id {
			return ls, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (listeners are named kind:name, e.g. tcp:external)", ErrUnknownListener, id)
}

// StopListener stops the listener id (kind:name): new connections are refused and current
// ones closed, waiting (at most 5 s) until every loop has closed them. Stopping a stopped
// listener is an error. Safe for concurrent use; never call it from an event loop.
func (n *Node) StopListener(id string) error {
	ls, err := n.listenerByID(id)
	if err != nil {
		return err
	}
	if !ls.ctl.stopped.CompareAndSwap(false, true) {
		return fmt.Errorf("listener %s is already stopped", id)
	}
	n.log.Warn("listener stopped: new connections are refused", "listener", ls.Kind+":"+ls.Name)
	n.closeListenerConns(ls)
	return nil
}

// StartListener lets the stopped listener id accept connections again. Starting a running
// listener is an error. Safe for concurrent use.
func (n *Node) StartListener(id string) error {
	ls, err := n.listenerByID(id)
	if err != nil {
		return err
	}
	if !ls.ctl.stopped.CompareAndSwap(true, false) {
		return fmt.Errorf("listener %s is already running", id)
	}
	n.log.Warn("listener started", "listener", ls.Kind+":"+ls.Name)
	return nil
}

// RestartListener runs the listener's Reload hook when it has one (an error there leaves the
// listener as it was and is returned), then stops it (unless stopped) and starts it: current
// connections are closed, and new ones get the reloaded settings. A running TLS listener (ssl,
// wss) is not stopped: its reload applies to new handshakes and its connections stay up.
// Safe for concurrent use; never call it from an event loop.
func (n *Node) RestartListener(id string) error {
	ls, err := n.listenerByID(id)
	if err != nil {
		return err
	}
	if ls.Reload != nil {
		if err := ls.Reload(); err != nil {
			return fmt.Errorf("reloading listener %s: %w", id, err)
		}
	}
	if ls.TLS != nil && !ls.ctl.stopped.Load() {
		// A TLS listener's restart is its reload: new handshakes get the files just read,
		// and established connections (whose handshake is done) stay up.
		n.log.Warn("listener restarted: TLS files reloaded, current connections kept", "listener", ls.Kind+":"+ls.Name)
		return nil
	}
	if ls.ctl.stopped.CompareAndSwap(false, true) {
		n.closeListenerConns(ls)
	}
	ls.ctl.stopped.Store(false)
	n.log.Warn("listener restarted", "listener", ls.Kind+":"+ls.Name)
	return nil
}

// closeListenerConns asks every loop to close the connections of ls and waits (bounded)
// until they did. ls is already stopped, so a loop accepts no new connection for it after
// running the task.
func (n *Node) closeListenerConns(ls *listenerState) {
	loops := *n.loops.Load()
	done := make(chan struct{}, len(loops))
	asked := 0
	for _, l := range loops {
		if l.el == nil {
			continue
		}
		err := l.el.Execute(context.Background(), runFunc(func() {
			l.begin()
			for _, c := range l.conns {
				if c.lis == ls && c.state < stateClosing {
					ls.ctl.closedByStop.Add(1)
					c.closeWith(codec.ServerShuttingDown, "listener "+ls.Kind+":"+ls.Name+" stopped")
				}
			}
			l.end()
			done <- struct{}{}
		}))
		if err == nil {
			asked++
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

// refuseStopped counts a connection accepted while the listener is stopped; the caller
// closes it. Runs on a loop.
func (ls *listenerState) refuseStopped(n *Node, peer netip.AddrPort) {
	n.stats.refusedStopped.Add(1)
	ls.ctl.refusedStopped.Add(1)
	ls.admLog.note(&ls.admLog.stopped, peer)
}
