package engine

import (
	"net"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// A QoS 1 subscriber that stops reading gets its messages queued, not lost, and receives
// them all in order when it reads again, without waiting for a sweep; one that never reads
// is disconnected after send_timeout.
func TestSlowConsumerResumesAndTimesOut(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) {
		z := c.Listeners[0].Zone
		z.HighWater = 32 << 10
		z.SendTimeout = 800 * time.Millisecond
		z.MaxMqueueLen = 0
		c.SweepInterval = time.Hour // only the end-of-round check may resume output
	})
	s, _ := connectRaw(t, addr, codec.V311, "slow", nil)
	s.c.(*net.TCPConn).SetReadBuffer(32 << 10)
	s.subscribe(1, 0, sub("big/#", 1))
	p, _ := connectRaw(t, addr, codec.V311, "pub", nil)
	payload := make([]byte, 8<<10)
	const n = 200 // 1.6 MB: far past the high-water mark and the socket buffers
	t0 := time.Now()
	for i := range n {
		payload[0], payload[1] = byte(i>>8), byte(i)
		p.publish(&codec.Publish{Topic: []byte("big/x"), QoS: 1, PacketID: uint16(i + 1), Payload: payload})
		p.recvAck(codec.TypePuback)
	}
	t.Logf("published in %v", time.Since(t0))
	// The subscriber now reads everything, acking as it goes.
	for i := range n {
		m := s.recvPublish()
		if got := int(m.Payload[0])<<8 | int(m.Payload[1]); got != i {
			t.Fatalf("message %d arrived as number %d", got, i)
		}
		s.ack(codec.TypePuback, m.PacketID)
	}

	// A subscriber that never reads is disconnected after send_timeout. (A QoS 1 subscriber
	// that stops acking is not: its window fills and its queue applies max_mqueue_len.) Its
	// socket is full, so the DISCONNECT cannot reach it: the proof is the close and the
	// counter.
	n2, addr2 := testNode(t, func(c *Config) {
		z := c.Listeners[0].Zone
		z.HighWater = 32 << 10
		z.SendTimeout = 300 * time.Millisecond
		c.SweepInterval = 100 * time.Millisecond
	})
	dead, _ := connectRaw(t, addr2, codec.V5, "dead", nil)
	dead.c.(*net.TCPConn).SetReadBuffer(4096)
	dead.subscribe(1, 0, sub("big/#", 0))
	p2, _ := connectRaw(t, addr2, codec.V311, "pub2", nil)
	closed := func() bool {
		for _, m := range n2.Metrics() {
			if m.Name == "connections.slow_closed" {
				return m.Value > 0
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !closed(); i++ {
		if time.Now().After(deadline) {
			t.Fatal("a subscriber that never reads was not closed after send_timeout")
		}
		p2.publish(&codec.Publish{Topic: []byte("big/x"), QoS: 1, PacketID: uint16(i%60000 + 1), Payload: payload})
		p2.recvAck(codec.TypePuback) // the publisher is never held back by the stalled subscriber
	}
}
