package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// bigPublish is a 3.1.1 CONNECT followed by a PUBLISH of 2 MB, twice the zone's default
// max_packet_size: the broker refuses the PUBLISH while the client is still sending it.
func bigPublish(v codec.Version) []byte {
	b := connectPacket(v, "big", nil)
	return codec.AppendPublish(b, &codec.Publish{Topic: []byte("big"), Payload: bytes.Repeat([]byte{'x'}, 2<<20)}, v)
}

// sendAndReadAll writes out, as a simple client does (all of it, then it reads), then reads
// what the broker sends until the end of the stream. It returns the bytes read and the first
// error (nil: the write went through and the read ended cleanly).
func sendAndReadAll(t *testing.T, c net.Conn, out []byte) ([]byte, error) {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(out); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// expectConnackThenEOF checks that the client read a successful CONNACK and then a clean
// end of stream: no reset destroyed the answer.
func expectConnackThenEOF(t *testing.T, got []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("read ended with %v after %d bytes, want the CONNACK then end of stream", err, len(got))
	}
	h, _ := codec.Frame(got, 0)
	if h.Total == 0 || h.Type != codec.TypeConnack || h.Total != len(got) {
		t.Fatalf("read % x, want one CONNACK", got)
	}
}

// A 3.1.1 client sending a 2 MB PUBLISH (over max_packet_size) reads its CONNACK and then a
// clean end of stream: the broker shuts its write side and drains the rest, so the kernel
// sends no reset. With lingering off the same exchange is cut by a reset (checked too, so
// that the test shows what it guards).
func TestLingerOversizedPublishTCP(t *testing.T) {
	n, addr := testNode(t, nil)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sendAndReadAll(t, c, bigPublish(codec.V311))
		expectConnackThenEOF(t, got, err)
	}
	waitFor(t, 5*time.Second, "lingered counted", func() bool { return metric(n, "connections.lingered") >= 3 })

	// Without lingering: the reset arrives (on loopback, every time in practice).
	_, addr = testNode(t, func(c *Config) { c.Listeners[0].Zone.LingerTimeout = 0 })
	resets := 0
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sendAndReadAll(t, c, bigPublish(codec.V311)); err != nil {
			resets++
		}
	}
	if resets == 0 {
		t.Fatal("without lingering no write or read failed: the test no longer shows what lingering fixes")
	}
}

// An MQTT 5 client that keeps publishing past the Receive Maximum reads the DISCONNECT 0x93
// and a clean end of stream, although its own writes were still arriving.
func TestLingerReceiveMaximumExceeded(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxAwaitingRel = 2 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	out := connectPacket(codec.V5, "greedy", nil)
	for id := uint16(1); id <= 2000; id++ {
		out = codec.AppendPublish(out, &codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: id, Payload: make([]byte, 200)}, codec.V5)
	}
	got, err := sendAndReadAll(t, c, out)
	if err != nil {
		t.Fatalf("read ended with %v after %d bytes, want PUBRECs, DISCONNECT 0x93, end of stream", err, len(got))
	}
	var last codec.Header
	var lastPkt []byte
	for len(got) > 0 {
		h, err := codec.Frame(got, 0)
		if err != nil || h.Total == 0 {
			t.Fatalf("trailing bytes % x", got)
		}
		last, lastPkt, got = h, got[:h.Total], got[h.Total:]
	}
	if last.Type != codec.TypeDisconnect {
		t.Fatalf("last packet type %v, want DISCONNECT", last.Type)
	}
	var d codec.Disconnect
	if err := d.Decode(lastPkt, codec.V5); err != nil || d.Code != codec.ReceiveMaximumExceeded {
		t.Fatalf("DISCONNECT %v (%v), want 0x93", d.Code, err)
	}
}

// The same over TLS: close_notify, then the TCP write side, then the drain.
func TestLingerOversizedPublishTLS(t *testing.T) {
	e := newTLSEnv(t, nil, nil)
	c, err := tls.Dial("tcp", e.addr, e.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := sendAndReadAll(t, c, bigPublish(codec.V311))
	expectConnackThenEOF(t, got, err)
}

// And over WebSocket: the DISCONNECT's binary frame, the close frame (1000), then the drain.
func TestLingerOversizedPublishWebSocket(t *testing.T) {
	_, _, wsAddr := wsNode(t, func(o *transport.WebSocketOptions) { o.MaxFrameSize = 0 }, nil)
	c := dialWS(t, wsAddr)
	if _, err := c.Write(connectPacket(codec.V5, "bigws", nil)); err != nil {
		t.Fatal(err)
	}
	big := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("big"), Payload: bytes.Repeat([]byte{'x'}, 2<<20)}, codec.V5)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Write(big)
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	<-done
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("read ended with %v after % x, want the close frame 1000", err, got)
	}
	// CONNACK, then DISCONNECT 0x95 (packet too large).
	h, _ := codec.Frame(got, 0)
	if h.Type != codec.TypeConnack || h.Total >= len(got) {
		t.Fatalf("read % x, want CONNACK then DISCONNECT", got)
	}
	var d codec.Disconnect
	if err := d.Decode(got[h.Total:], codec.V5); err != nil || d.Code != codec.PacketTooLarge {
		t.Fatalf("DISCONNECT %v (%v), want 0x95", d.Code, err)
	}
}

// A client that goes on sending after the close is cut at the byte bound, and one that
// sends nothing more but never closes its side is closed at the time bound: lingering is
// bounded either way.
func TestLingerBounds(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.LingerBytes = 32 << 10
		c.Listeners[0].Zone.LingerTimeout = 300 * time.Millisecond
	})
	// Time bound: a bad packet, then silence with the socket open.
	r := dialRaw(t, addr)
	r.send(connectPacket(codec.V311, "quiet", nil))
	r.packet()
	r.send([]byte{0xf0, 0x00}) // reserved packet type 15 in 3.1.1
	start := time.Now()
	r.closed()
	waitFor(t, 5*time.Second, "linger expired", func() bool { return metric(n, "connections.linger_expired") >= 1 })
	waitConns(t, n, 0)
	if time.Since(start) > 4*time.Second {
		t.Fatalf("lingering socket closed after %v", time.Since(start))
	}
	// Byte bound: 4 MB keep coming after the refusal.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	out := append(connectPacket(codec.V311, "noisy", nil), 0xf0, 0x00)
	out = append(out, make([]byte, 4<<20)...)
	_, _ = sendAndReadAll(t, c, out) // a reset is expected here: the bound cut the drain
	waitFor(t, 5*time.Second, "byte bound", func() bool { return metric(n, "connections.linger_bytes_closed") >= 1 })
}
