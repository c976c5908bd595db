package transport

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// fakeConn is the part of gnet.Conn the framer uses, over byte slices.
type fakeConn struct {
	gnet.Conn // nil: any other method panics
	in        []byte
	out       bytes.Buffer
	closed    bool
}

func (f *fakeConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(f.in) {
		return f.in, nil
	}
	return f.in[:n], nil
}

func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}

func (f *fakeConn) Write(b []byte) (int, error) { return f.out.Write(b) }
func (f *fakeConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		m, _ := f.out.Write(b)
		n += m
	}
	return n, nil
}
func (f *fakeConn) OutboundBuffered() int { return 0 }
func (f *fakeConn) Close() error          { f.closed = true; return nil }
func (f *fakeConn) AsyncWrite(b []byte, cb gnet.AsyncCallback) error {
	f.out.Write(b)
	if cb != nil {
		return cb(f, nil)
	}
	return nil
}
func (f *fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000} }
func (f *fakeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8083} }

const testUpgrade = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"

// maskedFrame builds a client frame with mask m.
func maskedFrame(op byte, fin bool, p []byte, m [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, m[:]...)
	for i, c := range p {
		b = append(b, c^m[i%4])
	}
	return b
}

// feedChunks feeds stream to a new framer in chunks whose sizes come from sizes (cycled),
// draining the decoded input after each round as the engine would, and returns it.
func feedChunks(t testing.TB, stream []byte, sizes []byte, o *WebSocketOptions) (decoded []byte, fc *fakeConn, err error) {
	fc = &fakeConn{}
	w := NewWebSocket(fc, o)
	for i := 0; len(stream) > 0; i++ {
		n := 1
		if len(sizes) > 0 {
			n = int(sizes[i%len(sizes)]) + 1
		}
		n = min(n, len(stream))
		fc.in = append(fc.in, stream[:n]...)
		stream = stream[n:]
		_, err = w.Feed()
		if got := w.InboundBuffered(); got < 0 {
			t.Fatalf("InboundBuffered %d", got)
		}
		// Like the engine, leave a tail unread now and then (the start of a packet): the
		// buffer then keeps it and moves it to the front when it needs room.
		if b, _ := w.Peek(-1); len(b) > 0 {
			take := len(b) - (i+len(b))%7
			if take > 0 {
				decoded = append(decoded, b[:take]...)
				_, _ = w.Discard(take)
			}
		}
		if err != nil {
			break
		}
	}
	if b, _ := w.Peek(-1); len(b) > 0 {
		decoded = append(decoded, b...)
		_, _ = w.Discard(len(b))
	}
	return decoded, fc, err
}

// Valid frames split anywhere decode to exactly their payloads, in order.
func TestWebSocketFramerSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var stream, want []byte
		stream = append(stream, testUpgrade...)
		for range 1 + rng.IntN(6) {
			p := make([]byte, []int{0, 1, 5, 125, 126, 300, 70000}[rng.IntN(7)])
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			m := [4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
			if rng.IntN(3) == 0 && len(p) > 1 { // a fragmented message with a ping inside
				k := rng.IntN(len(p))
				stream = append(stream, maskedFrame(0x2, false, p[:k], m)...)
				stream = append(stream, maskedFrame(0x9, true, []byte("pi"), m)...)
				stream = append(stream, maskedFrame(0x0, true, p[k:], m)...)
			} else {
				stream = append(stream, maskedFrame(0x2, true, p, m)...)
			}
			want = append(want, p...)
		}
		sizes := []byte{byte(rng.IntN(256)), byte(rng.IntN(8)), byte(rng.IntN(40))}
		got, fc, err := feedChunks(t, stream, sizes, &WebSocketOptions{Path: "/mqtt", VerifyProtocol: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: decoded %d bytes, want %d", round, len(got), len(want))
		}
		if !bytes.HasPrefix(fc.out.Bytes(), []byte("HTTP/1.1 101 ")) {
			t.Fatalf("round %d: response %q", round, fc.out.Bytes())
		}
	}
}

// The framer never panics on arbitrary input, before or after the upgrade, in any pieces.
func FuzzWebSocketFramer(f *testing.F) {
	m := [4]byte{1, 2, 3, 4}
	f.Add([]byte(testUpgrade), []byte{0})
	f.Add(append([]byte(testUpgrade), maskedFrame(0x2, true, []byte{0x10, 0}, m)...), []byte{3, 1})
	f.Add(append([]byte(testUpgrade), maskedFrame(0x8, true, []byte{3, 0xe8, 'x'}, m)...), []byte{255})
	f.Add(append([]byte(testUpgrade), maskedFrame(0x9, true, []byte("ping"), m)...), []byte{2})
	f.Add(append([]byte(testUpgrade), 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), []byte{7})
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"), []byte{})
	f.Add(append([]byte(testUpgrade), maskedFrame(0x2|0x40, true, []byte{0x32, 0x30, 0x00, 0x31, 0x03, 0x00}, m)...), []byte{1}) // a compressed "0\x00" (RSV1)
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		if !bytes.HasPrefix(data, []byte("GET")) {
			data = append([]byte(testUpgrade), data...) // mostly exercise the frames
		}
		_, _, _ = feedChunks(t, data, sizes, &WebSocketOptions{Path: "/mqtt", VerifyProtocol: true, MaxFrameSize: 1 << 16})
		// The same with permessage-deflate negotiated: compressed messages (RSV1) are inflated.
		if bytes.HasPrefix(data, []byte(testUpgrade)) {
			deflated := append([]byte(strings.TrimSuffix(testUpgrade, "\r\n")+"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"), data[len(testUpgrade):]...)
			_, _, _ = feedChunks(t, deflated, sizes, &WebSocketOptions{Path: "/mqtt", MaxMessageSize: 1 << 16, Deflate: &DeflateOptions{Level: 1}})
		}
	})
}
