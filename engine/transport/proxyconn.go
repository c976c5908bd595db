package transport

import (
	"fmt"
	"net"
	"time"
)

// ReadProxyHeader reads the PROXY protocol header at the start of nc, a connection served by a
// goroutine of its own (TLS listeners: the header comes before the TLS handshake), waiting
// until deadline. It returns nc wrapped so that reads continue with the bytes after the header
// and RemoteAddr is the client the header names (the socket's peer when the header carries no
// address: a LOCAL command, an UNKNOWN line). An error names why the input is not a valid
// header (ParseProxyHeader's errors) or that it did not arrive in time; the caller closes nc.
// It blocks: never call it on an event loop.
func ReadProxyHeader(nc net.Conn, deadline time.Time) (net.Conn, ProxyHeader, error) {
	if err := nc.SetReadDeadline(deadline); err != nil {
		return nil, ProxyHeader{}, err
	}
	defer func() { _ = nc.SetReadDeadline(time.Time{}) }()
	buf := make([]byte, 0, 256) // a v1 line or a v2 header without TLVs fits
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		h, n, perr := ParseProxyHeader(buf)
		if perr != nil {
			return nil, h, perr
		}
		if n > 0 {
			pc := &proxiedConn{Conn: nc, rest: buf[n:], remote: nc.RemoteAddr()}
			if h.Proxied {
				pc.remote = net.TCPAddrFromAddrPort(h.Source)
			}
			return pc, h, nil
		}
		if err != nil {
			return nil, h, fmt.Errorf("no complete PROXY protocol header (%d bytes read): %w", len(buf), err)
		}
	}
}

// proxiedConn is a connection whose PROXY header has been read: the bytes read past the
// header come first, and the client's address is the header's.
type proxiedConn struct {
	net.Conn
	rest   []byte
	remote net.Addr
}

func (c *proxiedConn) Read(b []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 {
			c.rest = nil
		}
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }
