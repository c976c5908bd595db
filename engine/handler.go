package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// handler implements gnet.EventHandler for every TCP listener of a node.
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
	if n.stopping.Load() {
		return nil, gnet.Close
	}
	ls := n.listenerOf(gc.LocalAddr())
	if ls == nil {
		n.log.Error("connection on an unknown listener", "local", gc.LocalAddr().String())
		return nil, gnet.Close
	}
	if ls.MaxConnections > 0 && ls.conns.Load() >= int64(ls.MaxConnections) {
		n.stats.refusedMaxConn.Add(1)
		n.log.Warn("connection refused: listener at max_connections", "listener", ls.Name, "max_connections", ls.MaxConnections, "peer", gc.RemoteAddr().String())
		return nil, gnet.Close
	}
	if ls.MaxConnRate > 0 && !ls.limiter.allow(ls.MaxConnRate, time.Now().UnixNano()) {
		n.stats.refusedRate.Add(1)
		n.log.Warn("connection refused: listener over max_conn_rate", "listener", ls.Name, "max_conn_rate", ls.MaxConnRate, "peer", gc.RemoteAddr().String())
		return nil, gnet.Close
	}
	ls.conns.Add(1)
	l := n.loopFor(gc.EventLoop())
	c := &conn{
		gc:       gc,
		loop:     l,
		lis:      ls,
		slot:     -1,
		lastRecv: time.Now().UnixNano(), // the open time until CONNECT is handled
	}
	if ta, ok := gc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			c.peer = a.Unmap()
		}
	}
	gc.SetContext(c)
	l.addConn(c)
	n.stats.connOpened()
	return nil, gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.Close
	}
	l := c.loop
	l.begin()
	action := c.onTraffic()
	l.end()
	return action
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	gc.SetContext(nil)
	l := c.loop
	l.begin()
	c.onClose(err)
	l.removeConn(c)
	c.lis.conns.Add(-1)
	h.n.stats.connClosed()
	l.end()
	return gnet.None
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

// listenerOf maps a connection's local address to its listener.
func (n *Node) listenerOf(a net.Addr) *listenerState {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	if ls, ok := n.byAddr[listenKey(ta)]; ok {
		return ls
	}
	// A listener bound to the wildcard address sees connections on concrete addresses.
	for k, ls := range n.byAddr {
		host, port, _ := net.SplitHostPort(k)
		if port != "" && ta.Port != 0 && port == portString(ta.Port) {
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				return ls
			}
		}
	}
	return nil
}
