package engine

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/engine/transport"
)

// handler implements gnet.EventHandler for every listener the event loops serve.
type handler struct {
	gnet.BuiltinEventEngine
	n *Node
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.n.engMu.Lock()
	h.n.eng = eng
	h.n.engMu.Unlock()
	close(h.n.boot)
	return gnet.None
}

func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	n := h.n
	ls := n.listenerOf(gc.LocalAddr())
	if ls == nil {
		n.log.Error("connection on an unknown listener", "local", gc.LocalAddr().String())
		return nil, gnet.Close
	}
	c := n.openConn(n.loopFor(gc.EventLoop()), ls, gc)
	if c == nil {
		return nil, gnet.Close
	}
	gc.SetContext(c)
	return nil, gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.Close
	}
	l := c.loop
	l.begin()
	c.onTraffic()
	l.end()
	return gnet.None
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	gc.SetContext(nil)
	c.closed(err)
	return gnet.None
}

// openConn admits a new connection of listener ls on loop l, whatever its transport, and
// returns it, or nil when it is refused (the caller closes the transport). Runs on l.
func (n *Node) openConn(l *loop, ls *listenerState, tr transport.Conn) *conn {
	if n.stopping.Load() {
		return nil
	}
	remote := addrPort(tr.RemoteAddr())
	if ls.MaxConnections > 0 && ls.conns.Load() >= int64(ls.MaxConnections) {
		n.stats.refusedMaxConn.Add(1)
		n.log.Warn("connection refused: listener at max_connections", "listener", ls.Name, "max_connections", ls.MaxConnections, "peer", remote.String())
		return nil
	}
	if ls.MaxConnRate > 0 && !ls.limiter.allow(ls.MaxConnRate, time.Now().UnixNano()) {
		n.stats.refusedRate.Add(1)
		n.log.Warn("connection refused: listener over max_conn_rate", "listener", ls.Name, "max_conn_rate", ls.MaxConnRate, "peer", remote.String())
		return nil
	}
	ls.conns.Add(1)
	c := &conn{
		tr:       tr,
		loop:     l,
		lis:      ls,
		slot:     -1,
		peer:     remote.Addr(),
		port:     remote.Port(),
		lastRecv: time.Now().UnixNano(), // the open time until CONNECT is handled
	}
	l.addConn(c)
	n.stats.connOpened()
	return c
}

// closed runs on c's loop once its transport is gone: the session goes offline or ends, the
// will goes out, and the connection leaves its loop and listener.
func (c *conn) closed(err error) {
	l := c.loop
	l.begin()
	c.onClose(err)
	l.removeConn(c)
	c.lis.conns.Add(-1)
	l.n.stats.connClosed()
	l.end()
}

// OnTick runs on gnet's ticker goroutine, not on a loop: it hands the per-loop sweep to each
// loop as a task.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	n := h.n
	for _, l := range *n.loops.Load() {
		if l.el == nil {
			continue
		}
		if err := l.el.Execute(context.Background(), l.sweepTask); err != nil && !errors.Is(err, context.Canceled) {
			break // engine shutting down
		}
	}
	d := n.cfg.SweepInterval
	if d <= 0 {
		d = time.Second
	}
	return d / sweepSlices, gnet.None
}

// listenerOf maps a connection's local address to its listener. The table is keyed by the
// bound address (netip.AddrPort), whatever the transport; a listener bound to the wildcard
// address (0.0.0.0 or ::) matches connections on any address of its port.
func (n *Node) listenerOf(a net.Addr) *listenerState {
	ap := addrPort(a)
	if ls, ok := n.byAddr[ap]; ok {
		return ls
	}
	for k, ls := range n.byAddr {
		if k.Port() == ap.Port() && k.Addr().IsUnspecified() {
			return ls
		}
	}
	return nil
}
