package engine

import (
	"strconv"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestInternalSubscriberKeepQoS1: a subscriber with KeepQoS1 whose handler is stuck keeps
// every QoS 1 delivery past QueueLen, in order, and drops only QoS 0 ones; the queue gets its
// normal size back once drained.
func TestInternalSubscriberKeepQoS1(t *testing.T) {
	n, addr := testNode(t, nil)
	col := newCollector()
	col.gate = make(chan struct{})
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "peer", QueueLen: 10, Batch: 1, KeepQoS1: true, Handle: col.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("k", SubscribeOptions{QoS: 1}); err != nil {
		t.Fatal(err)
	}
	p, _ := connectRaw(t, addr, codec.V311, "flood", nil)
	const total = 100
	for k := range total {
		p.publish(&codec.Publish{Topic: []byte("k"), QoS: 1, PacketID: uint16(k + 1), Payload: []byte(strconv.Itoa(k))})
	}
	for k := range total {
		p.publish(&codec.Publish{Topic: []byte("k"), Payload: []byte("q0-" + strconv.Itoa(k))})
	}
	waitFor(t, 5*time.Second, "QoS 0 drops", func() bool { return sub.Dropped() > 0 })
	close(col.gate)
	got := col.wait(t, total)
	for k := range total {
		if string(got[k].Msg.Payload) != strconv.Itoa(k) || got[k].QoS != 1 {
			t.Fatalf("delivery %d: %q QoS %d, want %d at QoS 1", k, got[k].Msg.Payload, got[k].QoS, k)
		}
	}
	waitFor(t, 5*time.Second, "the queue's normal size", func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		return len(sub.queue) == 10 && sub.count == 0
	})
	if d := sub.Dropped(); d == 0 || d > total {
		t.Fatalf("dropped %d QoS 0 deliveries", d)
	}
}
