package engine

import (
	"errors"
	"net/netip"
	"time"

	"github.com/emqgo/emqgo/engine/transport"
)

// PROXY protocol on a listener (listener.<tcp|ssl|ws|wss>.<name>.proxy_protocol = on).
//
// On ssl and wss listeners the header comes before the TLS handshake: the connection's
// goroutine reads it (transport.ReadProxyHeader, listener_tls.go) and the connection reaches
// its loop with the client's address already. On ws listeners the WebSocket framer reads it
// before the upgrade request (transport.WebSocket.ExpectProxyHeader), and readProxyHeader
// only takes the result. On tcp listeners:
//
// A connection of such a listener opens in stateProxy: its input stays in the transport until
// the whole header has arrived (version 1: at most 107 bytes; version 2: 16 bytes and the
// length they announce, at most 64 KiB more), on the loop, in onTraffic; then the header's
// bytes are discarded, the connection moves to stateNew and reads its CONNECT as any other.
// The header's source address and port become the connection's peer: ACL ipaddr rules,
// authenticators, hooks and logs see the real client. A version 2 LOCAL command (the proxy's
// health check), a version 1 UNKNOWN line and address families without an IP address keep
// the socket's address. TLVs are skipped.
//
// The listener's access rules are applied when the socket is accepted, to the address of the
// socket's peer, which is the proxy: they say which proxies may connect (the specification
// asks receivers to accept the header only from trusted proxies), as EMQX's acceptor checks
// its access rules on the accepted socket before the connection reads the header. Rules on
// the real client's address belong in acl.conf ({ipaddr, ...}).
//
// A connection whose input does not start with a valid header, or whose header is not
// complete within proxy_protocol_timeout, is closed without an answer (the broker cannot know
// what protocol the peer speaks), counted in connections.refused.proxy_protocol and in the
// listener's summary line of admission refusals (admission.go), never logged one line per
// connection: a load balancer's health checks without a header must not flood the log.
//
// A listener without the option never sees stateProxy: its connections pay nothing beyond the
// state test onTraffic makes anyway for parked input.

// defaultProxyTimeout is proxy_protocol_timeout when the listener sets none (EMQX's default;
// the specification suggests at least 3 s to cover a TCP retransmission).
const defaultProxyTimeout = 3 * time.Second

// errProxyTimeout is the refusal cause of a header that did not arrive in time.
var errProxyTimeout = errors.New("no complete PROXY protocol header within proxy_protocol_timeout")

// readProxyHeader reads the PROXY protocol header from the start of the connection's input.
// It returns true once the header is consumed (the connection is then in stateNew); false
// while the header is incomplete or when it was refused (the connection is then closing).
// Runs on the connection's loop.
func (c *conn) readProxyHeader() bool {
	if w, ok := c.tr.(*transport.WebSocket); ok {
		// ws: the framer reads the header (and refuses a bad one through its Feed).
		if !w.ProxyHeaderRead() {
			return false
		}
		if ap := addrPort(w.RemoteAddr()); ap.IsValid() {
			c.peer, c.port = ap.Addr(), ap.Port()
		}
		c.state = stateNew
		c.lastRecv = c.loop.now
		return true
	}
	avail := c.tr.InboundBuffered()
	if avail == 0 {
		return false
	}
	buf, _ := c.tr.Peek(min(avail, transport.ProxyMaxLen))
	h, n, err := transport.ParseProxyHeader(buf)
	if err != nil {
		c.refuseProxy(err)
		return false
	}
	if n == 0 {
		c.carry = int32(avail)
		return false
	}
	_, _ = c.tr.Discard(n)
	c.carry = max(0, c.carry-int32(n))
	if h.Proxied {
		c.peer, c.port = h.Source.Addr().Unmap(), h.Source.Port()
	}
	c.state = stateNew
	c.lastRecv = c.loop.now // idle_timeout counts from here
	return true
}

// proxyTimeout closes the connection when its header has not arrived within the listener's
// proxy_protocol_timeout. Called by the loop's sweep (tick).
func (c *conn) proxyTimeout() {
	d := c.lis.ProxyProtocolTimeout
	if d <= 0 {
		d = defaultProxyTimeout
	}
	if c.loop.now-c.lastRecv > int64(d) {
		c.refuseProxy(errProxyTimeout)
	}
}

// refuseProxy closes a connection that sent no valid PROXY protocol header, without a log
// line of its own (see the summary in admission.go) and without an answer.
func (c *conn) refuseProxy(why error) {
	c.lis.noteProxyRefusal(c.loop.n, c.remote(), why)
	_, _ = c.tr.Discard(-1)
	c.carry = 0
	c.state = stateClosing
	_ = c.tr.Close()
}

// noteProxyRefusal counts a connection of ls refused for its PROXY header (or its absence)
// and notes it for the listener's summary line. Safe for concurrent use (the TLS goroutines
// call it too).
func (ls *listenerState) noteProxyRefusal(n *Node, peer netip.AddrPort, why error) {
	n.stats.refusedProxy.Add(1)
	ls.ctl.refusedProxy.Add(1)
	if ls.admLog.proxy.Load() == 0 {
		ls.admLog.proxyWhy.Store(&why)
	}
	ls.admLog.note(&ls.admLog.proxy, peer)
}
