package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
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
	if isProbe(gc) {
		n.loopFor(gc.EventLoop()) // discoverLoops
		return nil, gnet.Close
	}
	ls := n.listenerOf(gc.LocalAddr())
	if ls == nil {
		n.log.Error("connection on an unknown listener", "local", gc.LocalAddr().String())
		return nil, gnet.Close
	}
	l := n.loopFor(gc.EventLoop())
	l.begin()
	var tr transport.Conn = gc
	var wc *wsConn
	if ls.WebSocket != nil {
		wc = newWSConn(gc, ls.WebSocket)
		if ls.ProxyProtocol {
			wc.ExpectProxyHeader()
		}
		tr = &wc.WebSocket
	}
	c := n.openConn(l, ls, tr)
	if c == nil {
		return nil, gnet.Close
	}
	// Socket options of the listener that differ from the engine-wide ones (TCP_NODELAY on).
	if ls.Nagle {
		_ = gc.SetNoDelay(false)
	}
	if ls.RecBuf > 0 {
		_ = gc.SetReadBuffer(ls.RecBuf)
	}
	if ls.SndBuf > 0 {
		_ = gc.SetWriteBuffer(ls.SndBuf)
	}
	if wc != nil {
		wc.c = c
		gc.SetContext(wc)
		return nil, gnet.None
	}
	gc.SetContext(c)
	return nil, gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		if wc, _ := gc.Context().(*wsConn); wc != nil {
			wc.onTraffic()
			return gnet.None
		}
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
		wc, _ := gc.Context().(*wsConn)
		if wc == nil {
			return gnet.None
		}
		wc.Release()
		c = wc.c
	}
	gc.SetContext(nil)
	c.closed(err)
	return gnet.None
}

// openConn admits a new connection of listener ls on loop l, whatever its transport, and
// returns it, or nil when it is refused (the caller closes the transport). Runs on l. See
// admission.go for the listener's access rules, max_connections and max_conn_rate.
func (n *Node) openConn(l *loop, ls *listenerState, tr transport.Conn) *conn {
	return n.openConnFrom(l, ls, tr, addrPort(tr.RemoteAddr()))
}

// openConnFrom is openConn with the socket's peer given: the access rules judge sock, which
// differs from the transport's RemoteAddr when a PROXY header read before the TLS handshake
// named the client (sock is then the proxy).
func (n *Node) openConnFrom(l *loop, ls *listenerState, tr transport.Conn, sock netip.AddrPort) *conn {
	if n.stopping.Load() {
		return nil
	}
	remote := addrPort(tr.RemoteAddr())
	if ls.ctl.stopped.Load() {
		ls.refuseStopped(n, sock) // listeners.go
		return nil
	}
	if !ls.admits(sock.Addr()) {
		n.stats.refusedAccess.Add(1)
		ls.admLog.note(&ls.admLog.denied, sock)
		return nil
	}
	if ls.MaxConnections > 0 && ls.conns.Load() >= int64(ls.MaxConnections) {
		n.stats.refusedMaxConn.Add(1)
		ls.admLog.note(&ls.admLog.full, remote)
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
		lastRecv: l.now, // the open time until CONNECT is handled
		limit:    newConnLimiter(ls, l.now),
	}
	if ls.ProxyProtocol && ls.TLS == nil { // TLS listeners read it before the handshake
		c.state = stateProxy // proxy.go
	}
	if ls.MaxConnRate > 0 && (len(l.waiting) > 0 || !ls.bucket.take(ls.MaxConnRate, l.now)) {
		// Over the rate: the CONNECT waits, behind those already waiting on this loop.
		c.state = stateWaiting
		l.waiting = append(l.waiting, c)
		n.stats.throttled.Add(1)
		ls.admLog.note(&ls.admLog.delayed, remote)
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
	n.tls.ticked.Store(true) // gnet has registered every loop (discoverLoops)
	now := time.Now().UnixNano()
	for _, l := range *n.loops.Load() {
		if l.el == nil || !l.handSweep(now) {
			continue
		}
		if err := l.el.Execute(context.Background(), l.sweepTask); err != nil && !errors.Is(err, context.Canceled) {
			break // engine shutting down
		}
	}
	n.summariseAdmissions(time.Now().UnixNano())
	n.summariseTLS(time.Now())
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
