package engine

import (
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// Lingering close.
//
// When the broker ends a connection because of what the client sent (a protocol error, an
// oversized packet, a refused CONNECT, input over a quota), the client may still be sending:
// closing the socket while its bytes sit unread in the kernel makes the kernel answer with a
// reset, and the reset may destroy the reason (DISCONNECT or CONNACK) before the client reads
// it. So such a close lingers, as HTTP servers do: the reason is written, the write side is
// shut once the output is on the wire (transport.ShutdownWrite: the client reads end of
// stream after the reason), whatever still arrives is read and dropped, and the socket closes
// when the client closes its side, after Zone.LingerTimeout, or past Zone.LingerBytes of
// input, whichever comes first. A loop keeps at most lingerPerLoop such sockets; beyond that
// a close is immediate. Nothing here blocks: the sweep (every tenth of the sweep interval)
// checks the deadlines, and the end of the round shuts the write sides.
//
// While it lingers the connection stays in stateClosing: its session and will are handled
// when the socket closes, as for any close.

// lingerPerLoop bounds the sockets lingering on one loop at a time.
const lingerPerLoop = 4096

// Defaults of Zone.LingerTimeout and Zone.LingerBytes (DefaultZone, mqtt.linger_timeout and
// mqtt.linger_bytes). The byte bound is generous because draining costs no memory, only reads:
// a client refused for a packet of several megabytes must be able to finish sending it, or
// the reset comes back (64 KiB would not cover the 2 MB packet of the tests); the time bound
// caps the rest.
const (
	DefaultLingerTimeout = time.Second
	DefaultLingerBytes   = 8 << 20
)

// lingerer is one lingering socket on its loop's list.
type lingerer struct {
	c    *conn
	shut bool // the write side is shut (or the transport will shut it after its queue)
}

// lingerTimeout returns the zone's linger time; 0 when closes do not linger.
func (z *Zone) lingerTimeout() time.Duration { return max(z.LingerTimeout, 0) }

// lingerBytes returns the zone's bound on the input dropped while lingering.
func (z *Zone) lingerBytes() int {
	if z.LingerBytes <= 0 {
		return DefaultLingerBytes
	}
	return z.LingerBytes
}

// closeTransport closes c's socket at the end of closeWith: lingering when the close was
// asked for with flagLinger (closeLingering) and the loop has room, at once otherwise.
func (c *conn) closeTransport() {
	if c.has(flagLinger) && c.startLinger() {
		return
	}
	c.unset(flagLinger)
	_ = c.tr.Close()
}

// closeLingering is closeWith for a close caused by the client's input: the socket lingers
// so that the reason reaches the client.
func (c *conn) closeLingering(code codec.ReasonCode, why string) {
	if c.state >= stateClosing {
		return
	}
	c.set(flagLinger)
	c.closeWith(code, why)
}

// startLinger puts c on its loop's lingering list; false when lingering is off or the list
// is full. The write side is shut at the end of the round, after the reason is written.
func (c *conn) startLinger() bool {
	l := c.loop
	if c.lis.Zone.lingerTimeout() <= 0 || len(l.lingering) >= lingerPerLoop || l.el == nil {
		return false
	}
	// While closing, lastRecv is when the linger began and need counts the input dropped
	// since (neither has another use once closing).
	c.lastRecv = l.now
	c.need = 0
	l.lingering = append(l.lingering, lingerer{c: c})
	l.lingerNew = true
	l.stats.Lingered++
	return true
}

// lingerInput drops n bytes of input that arrived while c lingers, and ends the linger once
// more than the zone's bound has come. Runs on the loop (onTraffic of a closing connection).
func (c *conn) lingerInput(n int) {
	if n <= 0 {
		return
	}
	c.need = int32(min(int64(c.need)+int64(n), 1<<30))
	if int(c.need) > c.lis.Zone.lingerBytes() {
		c.loop.stats.LingerBytesClosed++
		c.endLinger()
	}
}

// endLinger closes a lingering socket now. Its list entry goes at the next sweep.
func (c *conn) endLinger() {
	if !c.has(flagLinger) {
		return
	}
	c.unset(flagLinger)
	_ = c.tr.Close()
}

// shutLingering shuts the write side of the sockets that started lingering this round, now
// that their output (the reason) has been handed to the transport. Runs at the end of a round.
func (l *loop) shutLingering() {
	l.lingerNew = false
	for i := range l.lingering {
		e := &l.lingering[i]
		if !e.shut {
			e.shut = e.c.shutWrite()
		}
	}
}

// shutWrite shuts c's write side; false while output still waits (try again at the sweep).
func (c *conn) shutWrite() bool {
	if !c.has(flagLinger) || c.state != stateClosing {
		return true
	}
	done, err := transport.ShutdownWrite(c.tr)
	if err != nil {
		// No half close on this socket (or it failed): close it as before.
		c.endLinger()
		return true
	}
	return done
}

// sweepLingering runs at every sweep: it forgets the sockets that closed, retries the write
// shutdowns that waited for output, and closes the sockets whose time is up.
func (l *loop) sweepLingering() {
	kept := l.lingering[:0]
	for _, e := range l.lingering {
		c := e.c
		if !c.has(flagLinger) || c.state != stateClosing {
			continue // closed already (by the client, the byte bound, or a failed write)
		}
		if time.Duration(l.now-c.lastRecv) >= c.lis.Zone.lingerTimeout() {
			l.stats.LingerExpired++
			c.endLinger()
			continue
		}
		if !e.shut {
			e.shut = c.shutWrite()
		}
		kept = append(kept, e)
	}
	clear(l.lingering[len(kept):])
	l.lingering = kept
}
