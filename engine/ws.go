package engine

import (
	"errors"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/engine/transport"
)

// wsConn is a connection of a WebSocket listener: its framing transport and its MQTT
// connection in one allocation. It is the gnet connection's context (a TCP connection's is
// the *conn itself), so the TCP path pays nothing for it. It belongs to its loop.
type wsConn struct {
	transport.WebSocket
	c *conn
}

func newWSConn(gc gnet.Conn, o *transport.WebSocketOptions) *wsConn {
	wc := &wsConn{}
	wc.Init(gc, o)
	return wc
}

// onTraffic decodes the socket's input (the upgrade request, then frames) and hands the
// decoded MQTT bytes to the state machine. Runs on the connection's loop.
func (wc *wsConn) onTraffic() {
	c := wc.c
	l := c.loop
	l.begin()
	if c.has(flagLinger) {
		c.lingerInput(wc.Under().InboundBuffered()) // Feed drops it (linger.go)
	}
	upgraded, err := wc.Feed()
	if c.state == stateProxy {
		_ = c.readProxyHeader() // the framer read the PROXY header, or waits for it (proxy.go)
	}
	if upgraded {
		// The proxy headers (when the listener trusts them) may name the real client.
		if ap := addrPort(wc.RemoteAddr()); ap.IsValid() {
			c.peer, c.port = ap.Addr(), ap.Port()
		}
	}
	// What arrived before a close frame or a bad frame is still handled, in order.
	if wc.InboundBuffered() > 0 {
		c.onTraffic()
	}
	switch {
	case errors.Is(err, transport.ErrWSProxyHeader):
		c.refuseProxy(err)
	case err != nil:
		c.closeWith(0, err.Error())
	}
	l.end()
}
