package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Events is what the owner of a goroutine-backed connection (the engine) is told, always on
// the connection's event loop, in order: Input any number of times, then Closed once.
type Events interface {
	// Input says that input arrived: Peek sees it. Runs on the loop.
	Input()
	// Closed says that the connection is gone (the peer closed, a read or write failed, or
	// Close finished): no more calls follow, and the Conn must not be used. err is nil when the
	// owner asked for the close. Runs on the loop.
	Closed(err error)
}

// Executor runs tasks on the event loop that owns a connection, in the order given, without
// blocking the caller. gnet.EventLoop satisfies it.
type Executor interface {
	Execute(ctx context.Context, r gnet.Runnable) error
}

// Stream limits.
const (
	// streamReadSize is the plaintext a reader takes per read while data flows: one TLS
	// record at most. The buffer is pooled (streamReadPool) and held only while reads fill
	// more than the small buffer.
	streamReadSize = 16 << 10
	// streamSmallRead is the reader's own buffer (in the Stream), used while a connection is
	// idle or its input comes in small pieces (PINGREQ, small publishes): an idle connection
	// holds no larger read buffer.
	streamSmallRead = 512
	// streamInboxLimit is how much input may wait for the loop to take it before the reader
	// stops reading (TCP's window then pushes back on the client).
	streamInboxLimit = 1 << 20
	// closeLinger bounds how long a closing connection may take to write its queued output.
	closeLinger = 5 * time.Second
)

// Stream is a Conn over a net.Conn (a *tls.Conn) served by goroutines: a reader goroutine reads
// the socket and hands the bytes to the owning loop in batches (one task per batch, however
// many reads it took), and a writer goroutine, started when output is queued and gone when the
// queue is empty, writes what the loop queued. The loop sees the Conn contract: Peek/Discard
// over a buffer it owns, Write/Writev that copy into the queue and never block.
//
// Start it with Run once the owner is ready for Events. The Conn methods run on the loop only;
// Run and the goroutines synchronise with them through a mutex held for a copy at most.
type Stream struct {
	// PeerCert is the client's certificate when it sent one (TLS); set before Run, read-only
	// afterwards.
	PeerCert *x509.Certificate

	nc     net.Conn
	exec   Executor
	ev     Events
	local  net.Addr
	remote net.Addr

	// Owned by the loop.
	in        []byte // input taken from the reader, in[r:] not consumed yet
	r         int
	closeSent bool

	mu        sync.Mutex
	inbox     []byte        // input read and not yet taken by the loop
	scheduled bool          // an input task is queued on the loop
	out       []byte        // output queued and not yet taken by the writer
	writing   bool          // the writer goroutine runs
	closeReq  bool          // Close was called: close once the output is written
	halfClose bool          // ShutdownWrite was called: shut the write side once the output is written
	halfDone  bool          // the write side is shut (or being shut by the writer)
	taken     chan struct{} // the loop took input (the reader waits for it when the inbox is full)
	stop      chan struct{} // closed with the socket

	outBytes atomic.Int64 // output queued or being written
	done     atomic.Bool  // the socket is closed
	input    runTask
	wbuf     []byte // the buffer being written (the writer goroutine; swapped under mu)

	small      [streamSmallRead]byte // the reader's buffer between bursts (the reader goroutine)
	holdsLarge atomic.Bool           // the reader holds a pooled large buffer (tests read it)
}

// streamReadPool holds the readers' large buffers (*[streamReadSize]byte), taken while data
// flows and given back when reads are small again.
var streamReadPool = sync.Pool{New: func() any { return new([streamReadSize]byte) }}

// runTask adapts a method to gnet.Runnable without allocating per task.
type runTask struct{ f func() }

func (t *runTask) Run(context.Context) error { t.f(); return nil }

// NewStream wraps nc, whose events run on exec. Nothing is read until Run.
func NewStream(nc net.Conn, exec Executor, ev Events) *Stream {
	s := &Stream{nc: nc, exec: exec, ev: ev, local: nc.LocalAddr(), remote: nc.RemoteAddr(), taken: make(chan struct{}, 1), stop: make(chan struct{})}
	s.input.f = s.deliver
	return s
}

// NetConn returns the connection under the stream (e.g. the *tls.Conn, for its state).
func (s *Stream) NetConn() net.Conn { return s.nc }

// Run reads the connection until it fails or closes, handing input to the loop, then closes
// the socket and runs Closed on the loop. It is the reader goroutine: call it with go.
func (s *Stream) Run() {
	var big *[streamReadSize]byte // while data flows
	var err error
	for {
		buf := s.small[:]
		if big != nil {
			buf = big[:]
		}
		var n int
		n, err = s.nc.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.inbox = append(s.inbox, buf[:n]...)
			full := len(s.inbox) >= streamInboxLimit
			schedule := !s.scheduled
			s.scheduled = true
			s.mu.Unlock()
			if schedule && s.exec.Execute(context.Background(), &s.input) != nil {
				break // the loops are stopping
			}
			if full {
				select {
				case <-s.taken:
				case <-s.stop:
				}
			}
		}
		// Once the bytes are copied: choose the next read's buffer.
		switch {
		case big == nil && n == len(s.small):
			big = streamReadPool.Get().(*[streamReadSize]byte) // a larger record: take whole ones
			s.holdsLarge.Store(true)
		case big != nil && n <= len(s.small):
			streamReadPool.Put(big) // the burst is over: wait for the next read with the small one
			big = nil
			s.holdsLarge.Store(false)
		}
		if err != nil {
			break
		}
	}
	if big != nil {
		streamReadPool.Put(big)
	}
	s.shut()
	if s.closeRequested() {
		err = nil // the owner asked: whatever the read said is the close itself
	}
	_ = s.exec.Execute(context.Background(), &runTask{f: func() { s.ev.Closed(err) }})
}

func (s *Stream) closeRequested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeReq
}

// shut closes the socket once (from the reader or the writer).
func (s *Stream) shut() {
	if s.done.CompareAndSwap(false, true) {
		close(s.stop)
		_ = s.nc.Close()
	}
}

// deliver runs on the loop: it takes the reader's input and tells the owner.
func (s *Stream) deliver() {
	s.mu.Lock()
	if s.r == len(s.in) {
		// Everything consumed: swap buffers, no copy.
		s.in, s.inbox = s.inbox, s.in[:0]
		s.r = 0
	} else {
		s.in = append(s.in, s.inbox...)
		s.inbox = s.inbox[:0]
	}
	s.scheduled = false
	s.mu.Unlock()
	select {
	case s.taken <- struct{}{}:
	default:
	}
	if s.closeSent {
		s.in, s.r = s.in[:0], 0 // closing: input is ignored
		return
	}
	s.ev.Input()
}

// Peek implements Conn.
func (s *Stream) Peek(n int) ([]byte, error) {
	b := s.in[s.r:]
	if n < 0 {
		return b, nil
	}
	if n > len(b) {
		return b, errShortInput
	}
	return b[:n], nil
}

var errShortInput = errors.New("transport: fewer bytes buffered than asked for")

// Discard implements Conn.
func (s *Stream) Discard(n int) (int, error) {
	avail := len(s.in) - s.r
	if n < 0 || n > avail {
		n = avail
	}
	s.r += n
	if s.r == len(s.in) {
		s.in, s.r = s.in[:0], 0
		if cap(s.in) > 4*streamReadSize {
			s.in = nil // a burst is over: do not keep its buffer on an idle connection
		}
	}
	return n, nil
}

// InboundBuffered implements Conn.
func (s *Stream) InboundBuffered() int { return len(s.in) - s.r }

// Write implements Conn: b is copied into the output queue.
func (s *Stream) Write(b []byte) (int, error) {
	s.mu.Lock()
	if s.closeReq || s.halfClose || s.done.Load() {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	s.out = append(s.out, b...)
	s.outBytes.Add(int64(len(b)))
	s.kickLocked()
	s.mu.Unlock()
	return len(b), nil
}

// Writev implements Conn: the slices are copied into the output queue.
func (s *Stream) Writev(bufs [][]byte) (int, error) {
	s.mu.Lock()
	if s.closeReq || s.halfClose || s.done.Load() {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	n := 0
	for _, b := range bufs {
		s.out = append(s.out, b...)
		n += len(b)
	}
	s.outBytes.Add(int64(n))
	s.kickLocked()
	s.mu.Unlock()
	return n, nil
}

// kickLocked starts the writer unless it runs. s.mu is held.
func (s *Stream) kickLocked() {
	if !s.writing {
		s.writing = true
		go s.writer()
	}
}

// writer writes the queued output until the queue is empty, then closes the socket if Close
// was asked for, and exits.
func (s *Stream) writer() {
	for {
		s.mu.Lock()
		if len(s.out) == 0 {
			closing := s.closeReq
			if s.halfClose && !s.halfDone && !closing {
				// Everything queued before ShutdownWrite is written: end the output, still
				// as the writer (a close_notify is a write that may block).
				s.halfDone = true
				s.mu.Unlock()
				s.closeWrite()
				continue
			}
			s.writing = false
			if cap(s.out) > 4*streamReadSize {
				s.out = nil
			}
			if cap(s.wbuf) > 4*streamReadSize {
				s.wbuf = nil // under the lock: the next writer goroutine takes it
			}
			s.mu.Unlock()
			if closing {
				s.shut()
			}
			return
		}
		s.out, s.wbuf = s.wbuf[:0], s.out
		s.mu.Unlock()
		_, err := s.nc.Write(s.wbuf)
		s.outBytes.Add(-int64(len(s.wbuf)))
		if err != nil {
			s.mu.Lock()
			s.outBytes.Add(-int64(len(s.out)))
			s.out = s.out[:0]
			s.writing = false
			s.mu.Unlock()
			s.shut() // the reader sees it and reports Closed
			return
		}
	}
}

// ShutdownWrite implements the write half of a lingering close (see the package's
// ShutdownWrite): once the output queued so far is written, the writer sends TLS close_notify
// (when the connection is TLS) and shuts the socket's write side; the reader goes on reading,
// and the loop drops that input, until Close. It always reports done: the rest is the writer's.
// Runs on the loop.
func (s *Stream) ShutdownWrite() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeReq || s.done.Load() {
		return true, net.ErrClosed
	}
	if !s.halfClose {
		s.halfClose = true
		s.kickLocked()
	}
	return true, nil
}

// closeWrite ends the output of the socket under the stream, bounded in time: a client that
// reads nothing must not hold the writer. Runs on the writer goroutine.
func (s *Stream) closeWrite() {
	_ = s.nc.SetWriteDeadline(time.Now().Add(closeLinger))
	nc := s.nc
	if t, ok := nc.(*tls.Conn); ok {
		_ = t.CloseWrite() // close_notify only: the TCP write side is shut below
		nc = t.NetConn()
	}
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
}

// OutboundBuffered implements Conn.
func (s *Stream) OutboundBuffered() int { return int(s.outBytes.Load()) }

// Close implements Conn: the socket closes once the output queued so far, and whatever the
// loop writes until its current callback returns, is written; Closed follows on the loop.
// Input arriving meanwhile is dropped. (The engine closes first and flushes the round's
// output, e.g. a DISCONNECT, afterwards.)
func (s *Stream) Close() error { return s.CloseAfter(nil) }

// CloseAfter is Close with last (e.g. a WebSocket close frame) written after everything the
// loop writes until its current callback returns. last must not change afterwards. Runs on
// the loop.
func (s *Stream) CloseAfter(last []byte) error {
	if s.closeSent {
		return nil
	}
	s.closeSent = true
	// The close request is a task of its own: it runs after the current callback, so the
	// output the loop writes until then still goes out, in order.
	if err := s.exec.Execute(context.Background(), &runTask{f: func() { s.finish(last) }}); err != nil {
		s.finish(last) // the loops are stopping: close now
	}
	return nil
}

// finish queues last, asks the writer to close once the queue is written, and bounds how long
// that may take. Runs on the loop.
func (s *Stream) finish(last []byte) {
	// A client that stopped reading must not hold the close forever: the writes still
	// waiting fail after closeLinger.
	_ = s.nc.SetWriteDeadline(time.Now().Add(closeLinger))
	s.mu.Lock()
	if len(last) > 0 && !s.done.Load() {
		s.out = append(s.out, last...)
		s.outBytes.Add(int64(len(last)))
	}
	s.closeReq = true
	s.kickLocked()
	s.mu.Unlock()
}

// LocalAddr implements Conn.
func (s *Stream) LocalAddr() net.Addr { return s.local }

// RemoteAddr implements Conn.
func (s *Stream) RemoteAddr() net.Addr { return s.remote }
