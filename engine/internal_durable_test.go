package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestDurableSubscriberHoldsAcks: a QoS 1 publish delivered to a durable internal subscriber
// is acknowledged only once the subscriber's Commit completes; a later publish that needs no
// wait is acknowledged after it (the publishes' order); a failed commit refuses the publish.
func TestDurableSubscriberHoldsAcks(t *testing.T) {
	n, addr := testNode(t, nil)
	col := newCollector()
	commits := make(chan func(error), 10)
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "$internal/durable", Handle: col.handle,
		Commit: func(done func(error)) { commits <- done }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("kept/#", SubscribeOptions{QoS: 2}); err != nil {
		t.Fatal(err)
	}
	c, _ := connectRaw(t, addr, codec.V5, "pub", nil)
	c.publish(&codec.Publish{Topic: []byte("kept/a"), QoS: 1, PacketID: 1, Payload: []byte("one")})
	c.publish(&codec.Publish{Topic: []byte("elsewhere"), QoS: 1, PacketID: 2, Payload: []byte("two")})
	c.publish(&codec.Publish{Topic: []byte("kept/a"), QoS: 0, Payload: []byte("three")})
	col.wait(t, 2)
	var done func(error)
	select {
	case done = <-commits:
	case <-time.After(5 * time.Second):
		t.Fatal("the durable subscriber was not asked to commit")
	}
	c.silent(200 * time.Millisecond) // both acknowledgements wait for the commit
	done(nil)
	if a := c.recvAck(codec.TypePuback); a.PacketID != 1 || a.Code != codec.Success {
		t.Fatalf("first acknowledgement %+v, want PUBACK 1 success", a)
	}
	if a := c.recvAck(codec.TypePuback); a.PacketID != 2 || a.Code != codec.NoMatchingSubscribers {
		t.Fatalf("second acknowledgement %+v, want PUBACK 2 (no matching subscribers)", a)
	}
	select {
	case <-commits:
		t.Fatal("a QoS 0 delivery asked for a commit")
	case <-time.After(100 * time.Millisecond):
	}

	c.publish(&codec.Publish{Topic: []byte("kept/b"), QoS: 2, PacketID: 3, Payload: []byte("four")})
	select {
	case done = <-commits:
	case <-time.After(5 * time.Second):
		t.Fatal("the durable subscriber was not asked to commit")
	}
	done(errors.New("disk gone"))
	if a := c.recvAck(codec.TypePubrec); a.PacketID != 3 || a.Code != codec.QuotaExceeded {
		t.Fatalf("acknowledgement of a publish the subscriber lost: %+v, want PUBREC 3 0x97", a)
	}
}

// TestDurableSubscriberOverflowRefuses: a delivery that a full durable subscriber's queue
// drops is refused to its publisher (never acknowledged as if kept); the others are
// acknowledged in order once committed.
func TestDurableSubscriberOverflowRefuses(t *testing.T) {
	n, addr := testNode(t, nil)
	col := newCollector()
	col.gate = make(chan struct{})
	entered := make(chan struct{}, 10)
	handle := func(ds []Delivery) { entered <- struct{}{}; col.handle(ds) }
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "$internal/small", QueueLen: 1, Overflow: DropOldest, Handle: handle,
		Commit: func(done func(error)) { done(nil) }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("kept/#", SubscribeOptions{QoS: 1}); err != nil {
		t.Fatal(err)
	}
	c, _ := connectRaw(t, addr, codec.V5, "pub", nil)
	c.publish(&codec.Publish{Topic: []byte("kept/a"), QoS: 1, PacketID: 1, Payload: []byte("1")})
	<-entered // the handler holds message 1; the queue (1 slot) is empty
	c.publish(&codec.Publish{Topic: []byte("kept/a"), QoS: 1, PacketID: 2, Payload: []byte("2")})
	c.publish(&codec.Publish{Topic: []byte("kept/a"), QoS: 1, PacketID: 3, Payload: []byte("3")})
	waitFor(t, 5*time.Second, "the queue to drop one delivery", func() bool { return sub.Dropped() == 1 })
	c.silent(100 * time.Millisecond) // 1 is not kept yet; 2's refusal waits behind it
	close(col.gate)
	want := []struct {
		id   uint16
		code codec.ReasonCode
	}{{1, codec.Success}, {2, codec.QuotaExceeded}, {3, codec.Success}}
	for _, w := range want {
		if a := c.recvAck(codec.TypePuback); a.PacketID != w.id || a.Code != w.code {
			t.Fatalf("acknowledgement %+v, want PUBACK %d code %#x", a, w.id, byte(w.code))
		}
	}
	if got := col.wait(t, 2); string(got[1].Msg.Payload) != "3" {
		t.Fatalf("the subscriber kept %q after 1, want 3", got[1].Msg.Payload)
	}
}
