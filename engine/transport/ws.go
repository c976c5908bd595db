package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
)

// WebSocket is MQTT over WebSocket (RFC 6455) on one byte stream, on its event loop: the
// HTTP upgrade, then binary frames in both directions. The stream under it is a gnet
// connection (ws listeners, Init) or a Closer such as a TLS Stream (wss listeners, InitOver).
// It implements Conn for the engine's state machine: the input it offers is the payload of the client's data frames, unmasked and
// joined; what the engine writes leaves as one unmasked binary frame per Write or Writev.
//
// Every method runs on the connection's event loop (no locking). The engine calls Feed from
// its traffic callback before reading; Feed consumes the socket's input: the upgrade request,
// then frames, answering pings and the close handshake itself.
//
// Memory: an idle connection holds only this struct; the decoded input sits in a pooled buffer
// while some of it is unread and goes back to the pool once the engine has consumed it all.
type WebSocket struct {
	gc   Conn // the stream under the frames: a gnet.Conn or a Closer
	opts *WebSocketOptions
	peer net.Addr // the address named by the proxy headers, nil when none

	in *[]byte // decoded input, in[r:] unread; nil when empty
	r  int

	remain  int64   // payload bytes of the current data frame still to come
	maskPos int     // payload bytes of the current data frame unmasked so far (mask phase)
	mask    [4]byte // the current data frame's mask
	state   wsState
	frag    bool  // inside a fragmented message: continuation frames follow
	fin     bool  // the current data frame ends its message
	proxy   uint8 // PROXY protocol header: proxyNone, proxyExpected, proxyRead
	hdr     [10]byte
	z       *wsDeflate // permessage-deflate, when negotiated (ws_deflate.go)
	// The fields are ordered so that the engine's wsConn (this and a pointer) fits the
	// allocator's 112-byte class.
}

// PROXY protocol states of a WebSocket (ExpectProxyHeader).
const (
	proxyNone uint8 = iota
	proxyExpected
	proxyRead
)

type wsState uint8

const (
	wsUpgrade     wsState = iota // waiting for the HTTP upgrade request
	wsOpen                       // frames flow both ways
	wsCloseQueued                // Close was called: the close frame follows this round's output
	wsClosed                     // a close frame or an HTTP refusal went out: nothing more is written
	wsGone                       // the socket is closed (Release ran): the gnet connection is not touched again
)

// maxUpgradeRequest bounds the HTTP upgrade request (request line and headers).
const maxUpgradeRequest = 8 << 10

// Errors that end a WebSocket connection. Feed returns them, wrapped with the detail; the
// connection is then closed (the close frame or HTTP refusal has gone out already).
var (
	ErrWSClosedByPeer = errors.New("transport: WebSocket closed by the client")
	ErrWSProtocol     = errors.New("transport: WebSocket protocol error")
	ErrWSUpgrade      = errors.New("transport: WebSocket upgrade refused")
	ErrWSNotOpen      = errors.New("transport: WebSocket not open")
)

// NewWebSocket returns the WebSocket transport of gc, a new connection of a listener with
// options o (shared, read-only). The upgrade request is still to come.
func NewWebSocket(gc gnet.Conn, o *WebSocketOptions) *WebSocket {
	w := &WebSocket{}
	w.Init(gc, o)
	return w
}

// Init prepares w, a zero WebSocket (e.g. embedded in the engine's own per-connection
// struct, to save an allocation), like NewWebSocket.
func (w *WebSocket) Init(gc gnet.Conn, o *WebSocketOptions) {
	w.gc, w.opts = gc, o
}

// Closer is a byte stream that can close after one last piece of output queued behind
// everything written until the current loop callback returns: how a WebSocket over it sends
// its close frame. Stream implements it.
type Closer interface {
	Conn
	CloseAfter(last []byte) error
}

// InitOver prepares w, a zero WebSocket, over lo, a byte stream other than a gnet connection
// (a TLS Stream for wss listeners). Its events run on the loop that owns lo; the caller calls
// Feed when lo has input and Release when it has closed.
func (w *WebSocket) InitOver(lo Closer, o *WebSocketOptions) {
	w.gc, w.opts = lo, o
}

// Under returns the byte stream under the frames (e.g. the TLS Stream, for its peer
// certificate).
func (w *WebSocket) Under() Conn { return w.gc }

// Open reports whether the upgrade is done and the connection is not closing.
func (w *WebSocket) Open() bool { return w.state == wsOpen }

// Feed consumes the socket's input: the upgrade request (answered once it is complete), then
// frames, whose data payloads are appended to the input the engine peeks. It answers pings
// and the client's close frame, refuses text frames and frames above the size limit. upgraded
// is true in the round the upgrade succeeds (the engine then reads RemoteAddr again: the proxy
// headers may have named the client). A non-nil error means the connection is over: what was
// decoded before stays readable, the answer (close frame, HTTP refusal) has been written, and
// the caller closes the connection.
func (w *WebSocket) Feed() (upgraded bool, err error) {
	if w.state >= wsCloseQueued {
		if w.state != wsGone {
			_, _ = w.gc.Discard(-1)
		}
		return false, nil
	}
	if w.proxy == proxyExpected {
		if done, err := w.readProxy(); !done || err != nil {
			return false, err
		}
	}
	buf, _ := w.gc.Peek(-1)
	off := 0
	if w.state == wsUpgrade {
		end := indexHeaderEnd(buf)
		if end < 0 {
			if len(buf) > maxUpgradeRequest {
				w.refuse(431, "request headers exceed 8 KiB")
				return false, fmt.Errorf("%w: request headers exceed %d bytes", ErrWSUpgrade, maxUpgradeRequest)
			}
			return false, nil
		}
		if end > maxUpgradeRequest {
			w.refuse(431, "request headers exceed 8 KiB")
			return false, fmt.Errorf("%w: request headers exceed %d bytes", ErrWSUpgrade, maxUpgradeRequest)
		}
		if err := w.upgrade(buf[:end]); err != nil {
			w.markClosed()
			if w.state != wsGone {
				_, _ = w.gc.Discard(-1)
			}
			return false, err
		}
		w.state = wsOpen
		upgraded = true
		off = end
	}
	off, err = w.frames(buf, off)
	switch {
	case w.state == wsGone:
		// A failed write closed the socket inside the call: its buffers are gone.
	case w.state == wsClosed:
		_, _ = w.gc.Discard(-1)
	case off > 0:
		_, _ = w.gc.Discard(off)
	}
	return upgraded, err
}

// ErrWSProxyHeader is returned by Feed when a connection expecting a PROXY protocol header
// does not start with a valid one (wrapping ParseProxyHeader's error).
var ErrWSProxyHeader = errors.New("transport: no valid PROXY protocol header")

// ExpectProxyHeader makes w read a PROXY protocol header (versions 1 and 2) before the upgrade
// request, on a listener behind a proxy (proxy_protocol = on): the client it names becomes
// RemoteAddr. Call it before the first Feed.
func (w *WebSocket) ExpectProxyHeader() { w.proxy = proxyExpected }

// ProxyHeaderRead reports whether the PROXY header expected has been read.
func (w *WebSocket) ProxyHeaderRead() bool { return w.proxy == proxyRead }

// readProxy reads the PROXY header from the socket's input: done once it is consumed.
func (w *WebSocket) readProxy() (done bool, err error) {
	buf, _ := w.gc.Peek(-1)
	h, n, perr := ParseProxyHeader(buf[:min(len(buf), ProxyMaxLen)])
	if perr != nil {
		w.markClosed() // nothing is written back: the peer may not speak HTTP at all
		_, _ = w.gc.Discard(-1)
		return false, fmt.Errorf("%w: %w", ErrWSProxyHeader, perr)
	}
	if n == 0 {
		return false, nil
	}
	_, _ = w.gc.Discard(n)
	if h.Proxied {
		w.peer = net.TCPAddrFromAddrPort(h.Source)
	}
	w.proxy = proxyRead
	return true, nil
}

// frames decodes the frames in buf from off and returns where the first incomplete one starts.
func (w *WebSocket) frames(buf []byte, off int) (int, error) {
	for off < len(buf) {
		if w.remain > 0 {
			n := int(min(w.remain, int64(len(buf)-off)))
			if w.z != nil && w.z.inMsg {
				if err := w.appendCompressed(buf[off : off+n]); err != nil {
					return off, err
				}
			} else {
				w.appendPayload(buf[off : off+n])
			}
			off += n
			w.remain -= int64(n)
			if w.remain == 0 {
				if err := w.endFrame(); err != nil {
					return off, err
				}
			}
			continue
		}
		h, hl, err := parseHeader(buf[off:])
		if err != nil {
			return off, w.fail(ws.StatusProtocolError, err)
		}
		if hl == 0 {
			return off, nil // incomplete header
		}
		state := ws.StateServerSide
		if w.frag {
			state |= ws.StateFragmented
		}
		if w.z != nil {
			state |= ws.StateExtended
			if err := w.z.checkRsv(h); err != nil {
				return off, w.fail(ws.StatusProtocolError, err)
			}
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return off, w.fail(ws.StatusProtocolError, err)
		}
		if h.OpCode.IsControl() {
			end := off + hl + int(h.Length)
			if end > len(buf) {
				return off, nil // control frames (≤ 125 bytes) are handled whole
			}
			payload := buf[off+hl : end]
			ws.Cipher(payload, h.Mask, 0) // in the socket's input buffer, discarded below
			off = end
			if err := w.control(h.OpCode, payload); err != nil {
				return off, err
			}
			continue
		}
		switch h.OpCode {
		case ws.OpText:
			return off, w.fail(ws.StatusUnsupportedData, errors.New("text frame: MQTT travels in binary frames"))
		case ws.OpBinary:
			w.frag = !h.Fin
		case ws.OpContinuation:
			w.frag = !h.Fin
		}
		if limit := w.opts.MaxFrameSize; limit > 0 && h.Length > int64(limit) {
			return off, w.fail(ws.StatusMessageTooBig, fmt.Errorf("frame of %d bytes exceeds the limit of %d", h.Length, limit))
		}
		off += hl
		w.remain, w.maskPos, w.mask, w.fin = h.Length, 0, h.Mask, h.Fin
		if w.remain == 0 {
			if err := w.endFrame(); err != nil {
				return off, err
			}
		}
	}
	return off, nil
}

// endFrame runs once a data frame's payload is all in: the end of a compressed message
// inflates it.
func (w *WebSocket) endFrame() error {
	if w.fin && w.z != nil && w.z.inMsg {
		w.z.inMsg = false
		return w.inflateMessage()
	}
	return nil
}

// control handles a whole control frame whose payload is unmasked.
func (w *WebSocket) control(op ws.OpCode, payload []byte) error {
	switch op {
	case ws.OpPing:
		return w.writeFrame(ws.OpPong, payload)
	case ws.OpClose:
		status := ws.StatusNoStatusRcvd
		if len(payload) == 1 {
			return w.fail(ws.StatusProtocolError, errors.New("close frame with a 1-byte payload"))
		}
		if len(payload) >= 2 {
			status = ws.StatusCode(binary.BigEndian.Uint16(payload))
			if err := ws.CheckCloseFrameData(status, string(payload[2:])); err != nil {
				return w.fail(ws.StatusProtocolError, fmt.Errorf("close frame: %w", err))
			}
			payload = payload[:2] // echo the status, not the reason
		}
		_ = w.writeFrame(ws.OpClose, payload)
		w.markClosed()
		return fmt.Errorf("%w (status %d)", ErrWSClosedByPeer, status)
	}
	return nil // pong: nothing to do
}

// markClosed notes that nothing more may be written (unless the socket is gone already).
func (w *WebSocket) markClosed() {
	if w.state != wsGone {
		w.state = wsClosed
	}
}

// fail sends a close frame with status and returns the error for the caller to close with.
func (w *WebSocket) fail(status ws.StatusCode, cause error) error {
	var body [2]byte
	binary.BigEndian.PutUint16(body[:], uint16(status))
	_ = w.writeFrame(ws.OpClose, body[:])
	w.markClosed()
	return fmt.Errorf("%w: %v (close status %d)", ErrWSProtocol, cause, status)
}

// appendPayload unmasks a piece of the current data frame's payload into the input buffer.
func (w *WebSocket) appendPayload(p []byte) {
	if len(p) == 0 {
		return
	}
	if w.in == nil {
		w.in = getInBuf()
	}
	b := *w.in
	if w.r > 0 && cap(b)-len(b) < len(p) {
		// Move the unread rest (the start of a packet) to the front before growing.
		n := copy(b, b[w.r:])
		b, w.r = b[:n], 0
	}
	start := len(b)
	b = append(b, p...)
	ws.Cipher(b[start:], w.mask, w.maskPos)
	w.maskPos += len(p)
	*w.in = b
}

// Peek returns the next n bytes of decoded input (n < 0: all of it), valid until the next
// Discard or Feed. It returns what there is and io.ErrShortBuffer when fewer are buffered.
func (w *WebSocket) Peek(n int) ([]byte, error) {
	if w.in == nil {
		if n > 0 {
			return nil, io.ErrShortBuffer
		}
		return nil, nil
	}
	b := (*w.in)[w.r:]
	if n < 0 {
		return b, nil
	}
	if n > len(b) {
		return b, io.ErrShortBuffer
	}
	return b[:n], nil
}

// Discard consumes n bytes of decoded input (n <= 0 or above InboundBuffered: all of it).
func (w *WebSocket) Discard(n int) (int, error) {
	avail := w.InboundBuffered()
	if n <= 0 || n >= avail {
		w.releaseIn()
		return avail, nil
	}
	w.r += n
	return n, nil
}

// InboundBuffered returns how many decoded input bytes are unread.
func (w *WebSocket) InboundBuffered() int {
	if w.in == nil {
		return 0
	}
	return len(*w.in) - w.r
}

func (w *WebSocket) releaseIn() {
	if w.in != nil {
		putInBuf(w.in)
		w.in, w.r = nil, 0
	}
}

// Release returns the connection's buffers; call it once the connection is closed (from the
// close callback, which may run inside one of w's writes when the socket fails).
func (w *WebSocket) Release() {
	w.releaseIn()
	if w.z != nil {
		w.z.release()
		w.z.hist = nil
	}
	w.state = wsGone
}

// Write sends b as one binary frame. b may be reused once Write returns.
func (w *WebSocket) Write(b []byte) (int, error) {
	if w.state != wsOpen && w.state != wsCloseQueued {
		return 0, ErrWSNotOpen
	}
	if w.z != nil || w.opts.SinglePacket {
		one := [1][]byte{b}
		return w.Writev(one[:])
	}
	v := getVec()
	*v = append(*v, w.header(ws.OpBinary, len(b), false), b)
	_, err := w.gc.Writev(*v)
	putVec(v)
	return len(b), err
}

// Writev sends bufs as one binary frame (the payloads are handed to the socket by reference:
// only the frame header is added). The slices may be reused once Writev returns.
func (w *WebSocket) Writev(bufs [][]byte) (int, error) {
	if w.state != wsOpen && w.state != wsCloseQueued {
		return 0, ErrWSNotOpen
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if w.opts.SinglePacket {
		return w.writeEach(bufs, n)
	}
	return w.writeMessage(bufs, n)
}

// writeMessage sends bufs (n bytes) as one binary message.
func (w *WebSocket) writeMessage(bufs [][]byte, n int) (int, error) {
	if w.z != nil {
		return w.writeCompressed(bufs, n)
	}
	v := getVec()
	*v = append(*v, w.header(ws.OpBinary, n, false))
	*v = append(*v, bufs...)
	_, err := w.gc.Writev(*v)
	putVec(v)
	return n, err
}

// writeFrame writes one frame of w's own (pong, close) at once.
func (w *WebSocket) writeFrame(op ws.OpCode, payload []byte) error {
	if w.state >= wsClosed {
		return ErrWSNotOpen
	}
	v := getVec()
	*v = append(*v, w.header(op, len(payload), false), payload)
	_, err := w.gc.Writev(*v)
	putVec(v)
	return err
}

// writeCompressed sends bufs (n bytes) as one binary message, deflated when that is worth it.
func (w *WebSocket) writeCompressed(bufs [][]byte, n int) (int, error) {
	out := w.z.compress(bufs, n)
	v := getVec()
	if out == nil {
		*v = append(*v, w.header(ws.OpBinary, n, false))
		*v = append(*v, bufs...)
	} else {
		*v = append(*v, w.header(ws.OpBinary, out.Len(), true), out.Bytes())
	}
	_, err := w.gc.Writev(*v) // copies what the socket does not take at once
	putVec(v)
	if out != nil {
		deflateBufs.Put(out)
	}
	return n, err
}

// header encodes the header of an unmasked final frame into w.hdr (RSV1 set for a
// compressed message).
func (w *WebSocket) header(op ws.OpCode, n int, compressed bool) []byte {
	h := w.hdr[:]
	h[0] = 0x80 | byte(op)
	if compressed {
		h[0] |= 0x40
	}
	switch {
	case n <= 125:
		h[1] = byte(n)
		return h[:2]
	case n <= 0xffff:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		return h[:4]
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		return h[:10]
	}
}

// OutboundBuffered returns how many bytes wait for the socket.
func (w *WebSocket) OutboundBuffered() int { return w.gc.OutboundBuffered() }

// closeNormal is the close frame of a server-initiated close: status 1000.
var closeNormal = []byte{0x80 | byte(ws.OpClose), 2, 0x03, 0xe8}

// Close closes the connection. An open WebSocket gets its close frame (status 1000) after the
// output written so far in this round (the frame is queued behind the callback), then the
// socket closes.
func (w *WebSocket) Close() error {
	if w.state != wsOpen {
		return w.gc.Close()
	}
	w.state = wsCloseQueued
	if f, ok := w.gc.(Closer); ok {
		return f.CloseAfter(closeNormal)
	}
	return w.gc.(gnet.Conn).AsyncWrite(closeNormal, closeAfterWrite)
}

func closeAfterWrite(c gnet.Conn, _ error) error { return c.Close() }

// ShutdownWrite is the write half of a lingering close (see the package's ShutdownWrite): an
// open WebSocket sends its close frame (status 1000) now, behind everything written so far,
// then the stream under it shuts its write side once its queue is written. The client's close
// frame, and anything else it still sends, is dropped by Feed. Runs on the loop.
func (w *WebSocket) ShutdownWrite() (bool, error) {
	switch w.state {
	case wsGone:
		return true, ErrWSNotOpen
	case wsOpen:
		err := w.writeFrame(ws.OpClose, closeNormal[2:])
		w.markClosed()
		if err != nil {
			return true, err
		}
	case wsUpgrade, wsCloseQueued:
		w.markClosed()
	}
	return ShutdownWrite(w.gc)
}

// LocalAddr is the listener-side address.
func (w *WebSocket) LocalAddr() net.Addr { return w.gc.LocalAddr() }

// RemoteAddr is the client's address: the one the proxy headers named when the listener trusts
// them and the request had them, else the socket's peer.
func (w *WebSocket) RemoteAddr() net.Addr {
	if w.peer != nil {
		return w.peer
	}
	return w.gc.RemoteAddr()
}

// parseHeader parses the frame header at the start of b. n is 0 when b holds only part of it.
func parseHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u > 1<<62 {
			return h, 0, errors.New("frame length out of range")
		}
		h.Length = int64(u)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// Pools: the decoded input of connections with unread bytes, and the iovec scratch of writes.
var (
	inBufs sync.Pool // *[]byte
	vecs   = sync.Pool{New: func() any { v := make([][]byte, 0, 8); return &v }}
)

// maxPooledIn is the largest input buffer kept for reuse; a larger one (a huge packet) is
// left to the collector.
const maxPooledIn = 1 << 20

func getInBuf() *[]byte {
	if b, _ := inBufs.Get().(*[]byte); b != nil {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func putInBuf(b *[]byte) {
	if cap(*b) > maxPooledIn {
		return
	}
	*b = (*b)[:0]
	inBufs.Put(b)
}

func getVec() *[][]byte { return vecs.Get().(*[][]byte) }

func putVec(v *[][]byte) {
	clear(*v) // drop the references to the payloads
	*v = (*v)[:0]
	vecs.Put(v)
}
