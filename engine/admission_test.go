package engine

import (
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// refused asserts the broker closes the connection without answering: an EOF, or a reset
// since the CONNECT was never read.
func (r *rawConn) refused() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(r.r)
	if len(b) > 0 {
		r.t.Fatalf("got % x before the close, want nothing", b)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		r.t.Fatalf("expected the broker to close the connection, got %v", err)
	}
}

// metric returns the value of a named metric.
func metric(n *Node, name string) uint64 {
	for _, m := range n.Metrics() {
		if m.Name == name {
			return m.Value
		}
	}
	return 0
}

func TestListenerAccessRules(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Access = []AccessRule{
			{Allow: false, Prefix: netip.MustParsePrefix("127.0.0.0/8")},
			{Allow: true, All: true},
		}
	})
	c := dialRaw(t, addr)
	c.send(connectPacket(codec.V311, "denied", nil))
	c.refused()
	if got := metric(n, "connections.refused.access"); got != 1 {
		t.Fatalf("connections.refused.access = %d, want 1", got)
	}

	// The first matching rule decides: an allow for the peer before the deny lets it in.
	_, addr2 := testNode(t, func(c *Config) {
		c.Listeners[0].Access = []AccessRule{
			{Allow: true, Prefix: netip.MustParsePrefix("127.0.0.1/32")},
			{Allow: false, All: true},
		}
	})
	if _, ack := connectRaw(t, addr2, codec.V311, "allowed", nil); ack.Code != 0 {
		t.Fatalf("allowed peer refused: %v", ack.Code)
	}
}

func TestListenerMaxConnections(t *testing.T) {
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].MaxConnections = 2 })
	connectRaw(t, addr, codec.V311, "a", nil)
	connectRaw(t, addr, codec.V311, "b", nil)
	c := dialRaw(t, addr)
	c.send(connectPacket(codec.V311, "c", nil))
	c.refused()
	if got := metric(n, "connections.refused.max_connections"); got != 1 {
		t.Fatalf("connections.refused.max_connections = %d, want 1", got)
	}
}

// Connections over max_conn_rate wait instead of being refused: every one is served, at the
// rate.
func TestListenerConnRateThrottles(t *testing.T) {
	const rate, total = 50, 150
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].MaxConnRate = rate })
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, total)
	start := time.Now()
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, addr)
			if _, err := c.c.Write(connectPacket(codec.V311, "r"+string(rune('A'+i%26))+string(rune('a'+i/26)), nil)); err != nil {
				errs <- err.Error()
				return
			}
			_ = c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
			var b [4]byte
			if _, err := c.c.Read(b[:]); err != nil || b[0] != 0x20 || b[3] != 0 {
				errs <- "no CONNACK 0: " + err.Error()
				return
			}
			acked.Add(1)
		}()
	}
	time.Sleep(400 * time.Millisecond)
	early := acked.Load()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// A full bucket (one second's worth) goes at once, then the rate: after 0.4 s at most
	// about rate × 1.4 connections can have been served.
	if early > rate*3/2+5 {
		t.Fatalf("%d of %d connections served within %v at max_conn_rate %d: not throttled", early, total, 400*time.Millisecond, rate)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("%d connections at %d/s took only %v", total, rate, took)
	}
	if got := metric(n, "connections.delayed.max_conn_rate"); got == 0 || got > total {
		t.Fatalf("connections.delayed.max_conn_rate = %d", got)
	}
	if got := n.Stats().Connections; got != total {
		t.Fatalf("%d connections open, want %d", got, total)
	}
}
