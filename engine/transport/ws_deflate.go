package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692) on a WebSocket connection, negotiated at the upgrade when the
// listener enables it (compress = true).
//
// Memory is bounded per connection: the server always answers server_no_context_takeover, so
// each outgoing message is compressed by a pooled compressor, reset for it; an incoming
// message is inflated by a pooled decompressor, and when the client keeps its context (no
// client_no_context_takeover) the connection keeps the last window of what it sent (at most
// 2^client_max_window_bits bytes, 32 KiB by default) as the next message's dictionary.
// A compressed message is buffered whole (at most MaxMessageSize bytes), then inflated on the
// loop; one whose inflated size exceeds MaxMessageSize (a decompression bomb) is refused with
// close status 1009 as soon as the limit is passed, so inflating costs at most that much work
// and memory per message.

// DeflateOptions are a listener's permessage-deflate settings (deflate_opts.*).
type DeflateOptions struct {
	// Level is the compression level of outgoing messages (flate.NoCompression …
	// flate.BestCompression, flate.DefaultCompression); NoCompression sends them as they are.
	Level int
	// ClientNoContextTakeover (client_context_takeover = no_takeover) asks the client to
	// compress each message on its own: the connection then keeps no dictionary.
	ClientNoContextTakeover bool
	// ClientMaxWindowBits (8…15, 0: 15) limits the client's window when its offer allows it,
	// and with it the dictionary the connection keeps.
	ClientMaxWindowBits int
}

// DeflateLevel maps deflate_opts.level (none, default, best_speed, best_compression; "": the
// default) to DeflateOptions.Level.
func DeflateLevel(name string) int {
	switch name {
	case "none":
		return flate.NoCompression
	case "best_speed":
		return flate.BestSpeed
	case "best_compression":
		return flate.BestCompression
	}
	return flate.DefaultCompression
}

// deflateMinSize is the smallest outgoing message worth compressing: below it the deflate
// framing costs more than it saves, and the message goes out uncompressed (RSV1 clear), which
// RFC 7692 allows.
const deflateMinSize = 128

// wsDeflate is the negotiated state of one connection. It belongs to the connection's loop.
type wsDeflate struct {
	level    int
	takeover bool // the client keeps its context: hist is the next message's dictionary
	window   int  // the client's window in bytes
	hist     []byte
	msg      *[]byte // the compressed message being received (pooled), nil between messages
	inMsg    bool    // the current incoming message is compressed
}

// negotiateDeflate picks the first permessage-deflate offer the listener can accept and
// returns the response option; a zero option declines (the client then sends and expects
// uncompressed frames). It records the result in *out.
func negotiateDeflate(o *DeflateOptions, opt httphead.Option, out **wsDeflate) (httphead.Option, error) {
	if *out != nil || !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	var p wsflate.Parameters
	if err := p.Parse(opt); err != nil {
		return httphead.Option{}, nil // an offer with bad parameters is declined, not fatal
	}
	if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits < 15 {
		// The compressor's window is 32 KiB: a smaller one cannot be honoured.
		return httphead.Option{}, nil
	}
	d := &wsDeflate{level: o.Level, window: wsflate.MaxLZ77WindowSize}
	resp := wsflate.Parameters{ServerNoContextTakeover: true}
	if o.ClientNoContextTakeover || p.ClientNoContextTakeover {
		resp.ClientNoContextTakeover = true
	} else {
		d.takeover = true
	}
	if bits := o.ClientMaxWindowBits; p.ClientMaxWindowBits.Defined() && bits >= 8 && bits < 15 {
		if p.ClientMaxWindowBits > 1 { // the client named its own limit
			bits = min(bits, int(p.ClientMaxWindowBits))
		}
		resp.ClientMaxWindowBits = wsflate.WindowBits(bits)
		d.window = 1 << bits
	} else if p.ClientMaxWindowBits > 1 {
		d.window = p.ClientMaxWindowBits.Bytes()
	}
	*out = d
	return resp.Option(), nil
}

// checkRsv checks a frame's reserved bits: RSV1 marks the first frame of a compressed data
// message and nothing else; RSV2 and RSV3 are never set. It notes whether the message
// starting is compressed.
func (d *wsDeflate) checkRsv(h ws.Header) error {
	rsv1 := h.Rsv&0x4 != 0
	switch {
	case h.Rsv&0x3 != 0:
		return errors.New("RSV2 or RSV3 set")
	case rsv1 && (h.OpCode.IsControl() || h.OpCode == ws.OpContinuation):
		return errors.New("RSV1 set on a control or continuation frame")
	case h.OpCode == ws.OpBinary || h.OpCode == ws.OpText:
		d.inMsg = rsv1
	}
	return nil
}

// release gives back the pooled buffer of a message being received.
func (d *wsDeflate) release() {
	if d.msg != nil {
		putInBuf(d.msg)
		d.msg = nil
	}
}

// appendCompressed adds a piece of the current compressed message, unmasked.
func (w *WebSocket) appendCompressed(p []byte) error {
	d := w.z
	if d.msg == nil {
		d.msg = getInBuf()
	}
	if limit := w.maxMessage(); len(*d.msg)+len(p) > limit {
		return w.fail(ws.StatusMessageTooBig, fmt.Errorf("compressed message exceeds max_packet_size (%d bytes)", limit))
	}
	start := len(*d.msg)
	*d.msg = append(*d.msg, p...)
	ws.Cipher((*d.msg)[start:], w.mask, w.maskPos)
	w.maskPos += len(p)
	return nil
}

// deflateTail ends a message's deflate stream: the sync marker the sender stripped, then an
// empty final stored block, so that the decompressor reaches a clean end.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflaters pools decompressors (flate.Resetter).
var inflaters sync.Pool

// twoReader reads a then b, without allocating per message.
type twoReader struct{ a, b []byte }

func (r *twoReader) Read(p []byte) (int, error) {
	if len(r.a) > 0 {
		n := copy(p, r.a)
		r.a = r.a[n:]
		return n, nil
	}
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	return 0, io.EOF
}

var errInflateLimit = errors.New("inflated message exceeds the limit")

// inflateMessage inflates the complete compressed message into the decoded input. Runs on
// the loop.
func (w *WebSocket) inflateMessage() error {
	d := w.z
	var msg []byte
	if d.msg != nil {
		msg = *d.msg
	}
	if w.in == nil {
		w.in = getInBuf()
	}
	if w.r > 0 {
		// Move the unread rest to the front first: the dictionary logic reads what follows it.
		b := *w.in
		n := copy(b, b[w.r:])
		*w.in, w.r = b[:n], 0
	}
	start := len(*w.in)
	src := &twoReader{a: msg, b: deflateTail}
	var dict []byte
	if d.takeover {
		dict = d.hist
	}
	fr, _ := inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReaderDict(src, dict)
	} else if err := fr.(flate.Resetter).Reset(src, dict); err != nil {
		return w.fail(ws.StatusProtocolError, fmt.Errorf("permessage-deflate: %v", err))
	}
	out, err := readLimited(fr, *w.in, w.maxMessage())
	inflaters.Put(fr)
	*w.in = out
	d.release()
	if err != nil {
		*w.in = out[:start]
		if errors.Is(err, errInflateLimit) {
			return w.fail(ws.StatusMessageTooBig, fmt.Errorf("inflated message exceeds max_packet_size (%d bytes)", w.maxMessage()))
		}
		return w.fail(ws.StatusProtocolError, fmt.Errorf("permessage-deflate: %v", err))
	}
	if d.takeover {
		d.remember(out[start:])
	}
	return nil
}

// remember keeps the last window of the client's output (the next message's dictionary).
func (d *wsDeflate) remember(p []byte) {
	if len(p) >= d.window {
		d.hist = append(d.hist[:0], p[len(p)-d.window:]...)
		return
	}
	if keep := d.window - len(p); len(d.hist) > keep {
		d.hist = append(d.hist[:0], d.hist[len(d.hist)-keep:]...)
	}
	d.hist = append(d.hist, p...)
}

// maxMessage is the largest compressed or inflated message accepted.
func (w *WebSocket) maxMessage() int {
	if w.opts.MaxMessageSize > 0 {
		return w.opts.MaxMessageSize
	}
	return 268435455 + 5 // MQTT's largest packet
}

// readLimited appends r's output to dst, failing with errInflateLimit once more than limit
// bytes came out.
func readLimited(r io.Reader, dst []byte, limit int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, errInflateLimit
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// deflaters pools compressors by level (*flate.Writer), and the buffers they write into.
var (
	deflaters   sync.Map // level -> *sync.Pool
	deflateBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func deflaterPool(level int) *sync.Pool {
	if p, ok := deflaters.Load(level); ok {
		return p.(*sync.Pool)
	}
	p, _ := deflaters.LoadOrStore(level, &sync.Pool{})
	return p.(*sync.Pool)
}

// compress returns bufs deflated as one message (the trailing sync marker stripped), in a
// pooled buffer the caller gives back with deflateBufs.Put once written; nil when the
// message stays uncompressed (too small, level none).
func (d *wsDeflate) compress(bufs [][]byte, n int) *bytes.Buffer {
	if n < deflateMinSize || d.level == flate.NoCompression {
		return nil
	}
	out := deflateBufs.Get().(*bytes.Buffer)
	out.Reset()
	pool := deflaterPool(d.level)
	fw, _ := pool.Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(out, d.level); err != nil {
			deflateBufs.Put(out)
			return nil
		}
	} else {
		fw.Reset(out)
	}
	for _, b := range bufs {
		_, _ = fw.Write(b)
	}
	_ = fw.Flush()
	pool.Put(fw)
	if b := out.Bytes(); len(b) >= 4 && bytes.HasSuffix(b, deflateTail[:4]) {
		out.Truncate(len(b) - 4)
	}
	return out
}
