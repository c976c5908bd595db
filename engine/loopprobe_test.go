package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestLoopLags: every loop known answers the probe.
func TestLoopLags(t *testing.T) {
	n, addr := testNode(t, nil)
	for _, id := range []string{"a", "b", "c", "d"} { // loops are known once a connection opened on them
		mustConnect(t, addr, codec.V5, id, nil)
	}
	lags := n.LoopLags(mctx(t))
	if len(lags) == 0 || len(lags) != len(*n.loops.Load()) {
		t.Fatalf("lags: %+v", lags)
	}
	for _, l := range lags {
		if !l.Answered || l.Lag < 0 || l.Lag > 5*time.Second {
			t.Fatalf("loop lag %+v", l)
		}
	}
	// A ctx already done: nothing waits, the lags are lower bounds.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 { // the probes may still run in time: only "no hang" is certain
		n.LoopLags(ctx)
	}
}

// TestBusyConnections: a subscriber that stops reading is listed once its backlog stays above
// the high-water mark, with its pending bytes; one that reads is not.
func TestBusyConnections(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		z := c.Listeners[0].Zone
		z.HighWater = 32 << 10
		z.SendTimeout = time.Hour
	})
	stuck, _ := connectRaw(t, addr, codec.V5, "stuck", nil)
	stuck.c.(*net.TCPConn).SetReadBuffer(4096)
	stuck.subscribe(1, 0, sub("big/#", 0))
	reader, _ := connectRaw(t, addr, codec.V5, "reader", nil)
	p, _ := connectRaw(t, addr, codec.V311, "pub", nil)
	payload := make([]byte, 8<<10)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		p.publish(&codec.Publish{Topic: []byte("big/x"), QoS: 1, PacketID: uint16(i%60000 + 1), Payload: payload})
		p.recvAck(codec.TypePuback)
		busy, err := n.BusyConnections(mctx(t), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(busy) == 1 {
			b := busy[0]
			if b.ClientID != "stuck" || b.Pending <= 32<<10 || b.Since.After(time.Now()) || !b.Peer.IsValid() {
				t.Fatalf("busy %+v", b)
			}
			break
		}
		if len(busy) > 1 || time.Now().After(deadline) {
			t.Fatalf("busy connections %+v after %d messages", busy, i+1)
		}
	}
	if busy, err := n.BusyConnections(mctx(t), time.Hour); err != nil || len(busy) != 0 {
		t.Fatalf("busy for an hour: %+v %v", busy, err)
	}
	_ = reader
}
