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

import "net"

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
