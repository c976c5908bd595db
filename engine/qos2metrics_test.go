package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// waitMetric polls the node's metrics until name reaches want (loop counters are copied
// every sweep), failing after a few seconds with the last value.
func waitMetric(t *testing.T, n *Node, name string, want uint64) {
	t.Helper()
	var got uint64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range n.Metrics() {
			if m.Name == name {
				got = m.Value
			}
		}
		if got == want {
			return
		}
	}
	t.Fatalf("%s = %d, want %d", name, got, want)
}

// TestQoS2ExpiredAndDroppedMetrics: messages.qos2.expired counts inbound QoS 2 messages whose
// PUBREL did not come within await_rel_timeout; messages.qos2.dropped counts QoS 2 messages
// refused because max_awaiting_rel was reached and those dropped from a full session queue.
func TestQoS2ExpiredAndDroppedMetrics(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		z := *c.Listeners[0].Zone
		z.AwaitRelTimeout = 300 * time.Millisecond
		z.MaxAwaitingRel = 1
		z.MaxMqueueLen = 1
		c.Listeners[0].Zone = &z
	})
	waitMetric(t, n, "messages.qos2.expired", 0)
	waitMetric(t, n, "messages.qos2.dropped", 0)

	// A PUBREL that never comes: the message awaiting it expires.
	p, _ := connectRaw(t, addr, codec.V5, "pub", nil)
	p.publish(&codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: 1, Payload: []byte("a")})
	p.recvAck(codec.TypePubrec)
	waitMetric(t, n, "messages.qos2.expired", 1)

	// max_awaiting_rel = 1: a second QoS 2 message while one awaits PUBREL is refused.
	p.publish(&codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: 2, Payload: []byte("b")})
	p.recvAck(codec.TypePubrec)
	p.publish(&codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: 3, Payload: []byte("c")})
	if code := p.disconnectPacket(); code != codec.ReceiveMaximumExceeded {
		t.Fatalf("third QoS 2 message: DISCONNECT %v, want 0x93", code)
	}
	waitMetric(t, n, "messages.qos2.dropped", 1)

	// An offline persistent subscriber with max_mqueue_len = 1: the older of two QoS 2
	// messages is dropped from its queue.
	s, _ := connectRaw(t, addr, codec.V5, "sub", func(c *codec.Connect) { c.CleanStart = true; c.Props.SetSessionExpiry(300) })
	s.subscribe(1, 0, sub("q/#", 2))
	s.disconnect(0, nil)
	q, _ := connectRaw(t, addr, codec.V5, "pub2", nil)
	for i, body := range []string{"one", "two"} {
		q.publish(&codec.Publish{Topic: []byte("q/1"), QoS: 2, PacketID: uint16(10 + i), Payload: []byte(body)})
		q.recvAck(codec.TypePubrec)
		q.ack(codec.TypePubrel, uint16(10+i))
		q.recvAck(codec.TypePubcomp)
	}
	waitMetric(t, n, "messages.qos2.dropped", 2)
}
