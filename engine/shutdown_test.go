package engine

import (
	"context"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestStopTellsV5ClientsShuttingDown(t *testing.T) {
	n, addr := testNode(t, nil)
	c5, _ := connectRaw(t, addr, codec.V5, "five", nil)
	c3, _ := connectRaw(t, addr, codec.V311, "three", nil)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- n.Stop(ctx)
	}()
	if code := c5.disconnectPacket(); code != codec.ServerShuttingDown {
		t.Fatalf("v5 client got %v, want 0x8B", code)
	}
	c5.closed()
	if pkts := c3.closed(); len(pkts) != 0 {
		t.Fatalf("3.1.1 client got % x, want a plain close", pkts)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}
