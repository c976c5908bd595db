package engine

import (
	"strconv"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestAbuseManySubscriptionsNoLimit: one client subscribes 40,000† [10,000] distinct filters
// with max_subscriptions = 0 (no limit), in SUBSCRIBEs of 500, each SUBACK read before the
// next SUBSCRIBE: every filter is granted and routed. The time it took is logged, not
// asserted: before the session indexed its subscriptions by filter each filter was checked
// against the whole list, and 40,000 filters held the client's loop 6.5 s (the cost grew with
// the square of the count; BenchmarkSessionSubscribe in sessions/ shows it per filter).
func TestAbuseManySubscriptionsNoLimit(t *testing.T) {
	n, addr := testNode(t, nil)
	filters := scaled(40000, 10000)
	c, _ := connectRaw(t, addr, codec.V5, "greedy", nil)
	const perPacket = 500
	start := time.Now()
	granted := 0
	for id := 1; (id-1)*perPacket < filters; id++ {
		s := &codec.Subscribe{PacketID: uint16(id)}
		for k := 0; k < perPacket; k++ {
			i := (id-1)*perPacket + k
			s.Subs = append(s.Subs, codec.Subscription{Filter: []byte("tenant/" + strconv.Itoa(i%97) + "/device/" + strconv.Itoa(i) + "/#"), QoS: 1})
		}
		c.send(codec.AppendSubscribe(nil, s, codec.V5))
		var ack codec.Suback
		if err := ack.Decode(c.expect(codec.TypeSuback), codec.V5); err != nil {
			t.Fatal(err)
		}
		for _, code := range ack.Codes {
			if code != codec.GrantedQoS1 {
				t.Fatalf("SUBACK code %v", code)
			}
			granted++
		}
	}
	took := time.Since(start)
	// Subscribing again to the same filters replaces them: nothing is added.
	again := &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("tenant/0/device/0/#"), QoS: 0}}}
	c.send(codec.AppendSubscribe(nil, again, codec.V5))
	c.expect(codec.TypeSuback)
	t.Logf("%d filters from one client, max_subscriptions 0: all granted in %v (%v per filter)", filters, took.Round(time.Millisecond), took/time.Duration(filters))
	s := n.reg.Get("greedy")
	s.Lock()
	held := len(s.Subs)
	s.Unlock()
	if granted != filters || held != filters || n.Stats().Subscriptions != int64(filters) {
		t.Fatalf("granted %d, session holds %d, index %d; want %d each", granted, held, n.Stats().Subscriptions, filters)
	}
	// The last filter routes (the client is its own subscriber).
	last := filters - 1
	topic := "tenant/" + strconv.Itoa(last%97) + "/device/" + strconv.Itoa(last) + "/x"
	c.publish(&codec.Publish{Topic: []byte(topic), Payload: []byte("routed")})
	if p := c.recvPublish(); string(p.Topic) != topic {
		t.Fatalf("got %q, want %q", p.Topic, topic)
	}
}
