package tlspsk

import (
	"encoding/binary"
	"io"
	"net"
	"slices"
)

// Looking at a connection's first record before choosing a TLS implementation: a listener
// that serves certificates with crypto/tls and PSK with this package reads the ClientHello,
// picks by the suites it offers, and replays the bytes to the chosen one.

// PeekClientHello reads the first TLS record the client sends from r and returns the bytes
// read (to be replayed with Replay) and the cipher suites its ClientHello offers. suites is
// nil when the record is not a handshake record or does not hold the ClientHello's suite
// list; the bytes are returned all the same, and the TLS implementation that gets them
// reports what is wrong. err is a read error (deadline, closed connection). At most one
// record (16 KiB) is read.
func PeekClientHello(r io.Reader) (read []byte, suites []uint16, err error) {
	read = make([]byte, recordHeaderLen, 512)
	if _, err := io.ReadFull(r, read); err != nil {
		return nil, nil, err
	}
	if read[0] != recordHandshake || read[1] != 3 {
		return read, nil, nil
	}
	n := int(binary.BigEndian.Uint16(read[3:]))
	if n > maxPlaintext {
		return read, nil, nil
	}
	read = slices.Grow(read, n)[:recordHeaderLen+n]
	if _, err := io.ReadFull(r, read[recordHeaderLen:]); err != nil {
		return nil, nil, err
	}
	return read, clientHelloSuites(read[recordHeaderLen:]), nil
}

// clientHelloSuites returns the suites of the ClientHello at the start of a handshake
// record's payload, which may hold only its beginning; nil when they are not all there.
func clientHelloSuites(b []byte) []uint16 {
	p := newParser(b)
	if p.u8() != typeClientHello {
		return nil
	}
	p.u24()
	p.u16()     // version
	p.bytes(32) // random
	p.vec8()    // session id
	cs := p.vec16()
	if !p.ok || len(cs)%2 != 0 {
		return nil
	}
	suites := make([]uint16, 0, len(cs)/2)
	for i := 0; i < len(cs); i += 2 {
		suites = append(suites, binary.BigEndian.Uint16(cs[i:]))
	}
	return suites
}

// OffersAny reports whether offered (PeekClientHello's suites) contains one of want.
func OffersAny(offered, want []uint16) bool {
	for _, id := range offered {
		if slices.Contains(want, id) {
			return true
		}
	}
	return false
}

// Replay returns conn with prefix put back before its input: Read returns prefix first,
// then reads conn. Everything else is conn's. Read must not run on two goroutines at once.
func Replay(prefix []byte, conn net.Conn) net.Conn {
	if len(prefix) == 0 {
		return conn
	}
	return &replayConn{Conn: conn, prefix: prefix}
}

type replayConn struct {
	net.Conn
	prefix []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		if len(c.prefix) == 0 {
			c.prefix = nil
		}
		return n, nil
	}
	return c.Conn.Read(b)
}
