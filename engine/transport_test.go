package engine

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// memConn is a transport.Conn over memory: what a framing or TLS transport hands the state
// machine, without a gnet connection under it. It shows the state machine needs nothing of
// gnet's beyond the contract.
type memConn struct {
	l      *loop
	c      *conn
	in     []byte
	mu     sync.Mutex // guards out, read by the test goroutine
	out    bytes.Buffer
	closed bool
}

var _ transport.Conn = (*memConn)(nil)

func (m *memConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(m.in) {
		return m.in, nil
	}
	return m.in[:n], nil
}

func (m *memConn) Discard(n int) (int, error) {
	if n < 0 || n > len(m.in) {
		n = len(m.in)
	}
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) InboundBuffered() int { return len(m.in) }

func (m *memConn) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(b)
}

func (m *memConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		k, _ := m.Write(b)
		n += k
	}
	return n, nil
}

func (m *memConn) OutboundBuffered() int { return 0 }

// Close runs the engine's close callback on the loop afterwards, as the contract says.
func (m *memConn) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	return m.l.el.Execute(context.Background(), runFunc(func() { m.c.closed(nil) }))
}

func (m *memConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (m *memConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: "127.0.0.9:4242", Net: "mem"} }

// onLoop runs f on loop l and waits for it.
func onLoop(t *testing.T, l *loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.el.Execute(context.Background(), runFunc(func() { l.begin(); f(); l.end(); close(done) })); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop task did not run")
	}
}

// packets decodes what m received so far.
func (m *memConn) packets(t *testing.T) []codec.PacketType {
	m.mu.Lock()
	defer m.mu.Unlock()
	var types []codec.PacketType
	b := m.out.Bytes()
	for len(b) > 0 {
		h, err := codec.Frame(b, 0)
		if err != nil || h.Total == 0 {
			t.Fatalf("bad output % x", b)
		}
		types = append(types, h.Type)
		b = b[h.Total:]
	}
	return types
}

// The connection state machine runs over any transport.Conn: a client on a memory transport
// connects, subscribes, receives what a TCP client publishes, and leaves no session behind.
func TestStateMachineOverAnotherTransport(t *testing.T) {
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1 })
	tcp, _ := connectRaw(t, addr, codec.V5, "tcp-client", nil) // the loop exists from here on
	l := (*n.loops.Load())[0]
	var ls *listenerState
	for _, x := range n.byAddr {
		ls = x
	}
	m := &memConn{l: l}
	onLoop(t, l, func() {
		m.c = n.openConn(l, ls, m)
		if m.c == nil {
			t.Error("memory connection refused")
			return
		}
		m.in = append(m.in, connectPacket(codec.V5, "mem-client", nil)...)
		m.in = codec.AppendSubscribe(m.in, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("m/#", 0)}}, codec.V5)
		m.c.onTraffic()
	})
	if got := m.packets(t); len(got) != 2 || got[0] != codec.TypeConnack || got[1] != codec.TypeSuback {
		t.Fatalf("memory client got %v, want CONNACK, SUBACK", got)
	}
	if m.c.peer.String() != "127.0.0.9" || m.c.port != 4242 {
		t.Fatalf("peer from a non-TCP address: %v:%d", m.c.peer, m.c.port)
	}
	tcp.publish(&codec.Publish{Topic: []byte("m/1"), Payload: []byte("to memory")})
	waitFor(t, 5*time.Second, "the PUBLISH on the memory transport", func() bool { return len(m.packets(t)) == 3 })
	if got := m.packets(t)[2]; got != codec.TypePublish {
		t.Fatalf("got %v", got)
	}
	onLoop(t, l, func() { m.c.closeWith(codec.NormalDisconnection, "test") })
	waitFor(t, 5*time.Second, "the memory client's session to end", func() bool { return n.Stats().Sessions == 1 })
}
