// Package transport defines the byte stream an MQTT connection runs on, and (as they are built)
// the transports beside plain TCP: TLS, TLS-PSK, WebSocket and the PROXY protocol.
//
// The engine's connection state machine sees only Conn. Plain TCP is a gnet connection, which
// satisfies Conn as it is: no wrapper, no extra call, no copy. A framing transport (WebSocket)
// wraps the gnet connection of its socket on the same event loop; a transport that needs a
// goroutine of its own (TLS) keeps the socket on that goroutine and hands plaintext to the owning
// loop in batches. Either way the state machine runs on the loop and reads and writes through
// Conn.
//
// This package never imports the engine: the engine imports it.
package transport

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Conn is the byte stream under one MQTT connection.
//
// Every method is called on the connection's event loop only, and none may block: Write and
// Writev queue what the socket does not take at once (OutboundBuffered tells how much waits).
//
// Input is read in place: Peek returns bytes owned by the transport, valid until the next
// Discard or the end of the current callback, whichever comes first; the caller copies what it
// keeps. Bytes not discarded stay buffered and are peeked again in the next round.
type Conn interface {
	// Peek returns the next n bytes of input without consuming them (n < 0: everything
	// buffered). It returns fewer bytes and an error when fewer are buffered.
	Peek(n int) ([]byte, error)
	// Discard consumes the next n bytes of input (n < 0 or above InboundBuffered: all of
	// them; gnet treats n == 0 as "all" too, so callers never pass 0).
	Discard(n int) (int, error)
	// InboundBuffered returns how many bytes of input are buffered.
	InboundBuffered() int

	// Write queues b for the socket. b may be reused once Write returns.
	Write(b []byte) (int, error)
	// Writev queues bufs for the socket in one call (one writev system call for TCP). The
	// slices may be reused once Writev returns.
	Writev(bufs [][]byte) (int, error)
	// OutboundBuffered returns how many bytes wait for the socket (the slow-consumer policy
	// reads it).
	OutboundBuffered() int

	// Close closes the connection once the output queued so far is written; the engine's
	// close callback runs afterwards on the loop.
	Close() error

	// LocalAddr is the listener-side address (it selects the listener's settings).
	LocalAddr() net.Addr
	// RemoteAddr is the client's address (ACL rules, logs, authentication).
	RemoteAddr() net.Addr
}

// ShutdownWrite is the first half of a lingering close: it ends c's output once everything
// queued so far has been written (TCP: shutdown(SHUT_WR), the peer reads end of stream after
// the last byte; TLS: close_notify, then the same; WebSocket: its close frame first) and keeps
// the input open, so that the peer's bytes still in flight are read and dropped by the caller
// instead of making the kernel answer them with a reset, which could destroy the last answer
// (a DISCONNECT or CONNACK with its reason) before the peer reads it. Close ends the linger.
//
// done is false while output still waits for the socket (a gnet connection whose outbound
// buffer is not empty): nothing was done, call again later. It is true once the write side is
// shut, or will be by the transport itself once its queue is written (Stream). Runs on the
// connection's loop; never blocks.
func ShutdownWrite(c Conn) (done bool, err error) {
	switch t := c.(type) {
	case interface{ ShutdownWrite() (bool, error) }:
		return t.ShutdownWrite()
	case interface{ Fd() int }:
		if c.OutboundBuffered() > 0 {
			return false, nil
		}
		if err := unix.Shutdown(t.Fd(), unix.SHUT_WR); err != nil {
			return true, fmt.Errorf("transport: cannot shut down the write side: %w", err)
		}
		return true, nil
	}
	return true, errNoHalfClose
}

var errNoHalfClose = errors.New("transport: the connection cannot shut down its write side alone")
