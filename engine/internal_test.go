package engine

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// collector is an internal subscriber's handler that records what it receives.
type collector struct {
	mu    sync.Mutex
	got   []Delivery // messages copied out (Hold would also do)
	calls int
	gate  chan struct{} // when set, each call waits for it
	ch    chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 10000)} }

func (c *collector) handle(ds []Delivery) {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	c.calls++
	for _, d := range ds {
		cp := *d.Msg
		cp.Topic = append([]byte(nil), d.Msg.Topic...)
		cp.Payload = append([]byte(nil), d.Msg.Payload...)
		d.Msg = &cp
		c.got = append(c.got, d)
	}
	c.mu.Unlock()
	for range ds {
		c.ch <- struct{}{}
	}
}

// wait waits until k deliveries arrived in all.
func (c *collector) wait(t *testing.T, k int) []Delivery {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.got)
		c.mu.Unlock()
		if n >= k {
			break
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("internal subscriber got %d deliveries, want %d", n, k)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Delivery(nil), c.got...)
}

// publishNumbered connects 4 publishers (on both loops) and has each publish per messages to
// its own topic t/<i>, the payload of the k-th being k, at QoS k % 2 (checkOrderAndQoS).
func publishNumbered(t *testing.T, addr string) (pubs []*client, per int) {
	t.Helper()
	pubs = make([]*client, 4)
	for i := range pubs {
		pubs[i], _ = connectRaw(t, addr, codec.V5, "pub"+strconv.Itoa(i), nil)
	}
	per = 200
	for k := range per {
		for i, p := range pubs {
			p.publish(&codec.Publish{QoS: uint8(k % 2), PacketID: uint16(k + 1), Topic: []byte("t/" + strconv.Itoa(i)), Payload: []byte(strconv.Itoa(k))})
		}
	}
	return pubs, per
}

// checkOrderAndQoS checks deliveries whose payload is the publisher's message number k, one
// topic per publisher, published at QoS k % 2: each topic's messages arrive in order, at
// their QoS.
func checkOrderAndQoS(t *testing.T, got []Delivery) {
	t.Helper()
	next := map[string]int{}
	for _, d := range got {
		topic := string(d.Msg.Topic)
		k, _ := strconv.Atoi(string(d.Msg.Payload))
		if k != next[topic] {
			t.Fatalf("%s: got message %d, want %d (order per publisher is kept)", topic, k, next[topic])
		}
		if want := uint8(k % 2); d.QoS != want {
			t.Fatalf("message %d delivered at QoS %d, want %d", k, d.QoS, want)
		}
		next[topic]++
	}
}

func TestInternalSubscriberReceivesClientMessages(t *testing.T) {
	n, addr := testNode(t, nil)
	col := newCollector()
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "$internal/test", Handle: col.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("t/#", SubscribeOptions{QoS: 1}); err != nil {
		t.Fatal(err)
	}
	pubs, per := publishNumbered(t, addr)
	got := col.wait(t, per*len(pubs))
	checkOrderAndQoS(t, got)
	col.mu.Lock()
	calls := col.calls
	col.mu.Unlock()
	if calls >= len(got) {
		t.Logf("%d deliveries in %d calls (no batching happened on this run)", len(got), calls)
	}
	// Unsubscribed: nothing more arrives, clients are unaffected.
	if !sub.Unsubscribe("t/#") {
		t.Fatal("Unsubscribe: no such subscription")
	}
	pubs[0].publish(&codec.Publish{Topic: []byte("t/0"), Payload: []byte("after")})
	time.Sleep(100 * time.Millisecond)
	if late := col.wait(t, 0); len(late) != len(got) {
		t.Fatalf("%d deliveries after unsubscribing", len(late)-len(got))
	}
}

func TestInternalSubscriberOverflow(t *testing.T) {
	for _, policy := range []Overflow{DropNewest, DropOldest} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			n, addr := testNode(t, nil)
			col := newCollector()
			col.gate = make(chan struct{})
			sub, err := n.NewSubscriber(SubscriberOptions{Name: "slow", QueueLen: 10, Batch: 1, Overflow: policy, Handle: col.handle})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Subscribe("o", SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			p, _ := connectRaw(t, addr, codec.V311, "flood", nil)
			const total = 50
			for k := range total {
				p.publish(&codec.Publish{Topic: []byte("o"), Payload: []byte(strconv.Itoa(k))})
			}
			waitFor(t, 5*time.Second, "drops", func() bool { return sub.Dropped() >= total-11 })
			close(col.gate)
			received := int(total - sub.Dropped())
			got := col.wait(t, received)
			if len(got) != received {
				t.Fatalf("received %d, dropped %d, of %d", len(got), sub.Dropped(), total)
			}
			last, _ := strconv.Atoi(string(got[len(got)-1].Msg.Payload))
			switch policy {
			case DropNewest:
				if last >= total-1 && sub.Dropped() > 0 {
					t.Fatalf("drop-newest kept the newest message")
				}
			case DropOldest:
				if last != total-1 {
					t.Fatalf("drop-oldest lost the newest message (last %d)", last)
				}
			}
			// A bystander is served all along.
			newBystander(t, addr, "by").check()
		})
	}
}

func TestInternalSubscriberSharedRetainedNoLocal(t *testing.T) {
	n, addr := testNode(t, nil)
	col := newCollector()
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "bridge", Handle: col.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Retained messages on subscribe.
	if _, err := n.Publish("r/1", []byte("kept"), 1, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe("r/#", SubscribeOptions{QoS: 1, Retained: true}); err != nil {
		t.Fatal(err)
	}
	if d := col.wait(t, 1)[0]; string(d.Msg.Payload) != "kept" || !d.Retain {
		t.Fatalf("retained replay: %q retain=%v", d.Msg.Payload, d.Retain)
	}

	// No Local: what the subscriber publishes itself does not come back, a client gets it.
	if err := sub.Subscribe("loop", SubscribeOptions{NoLocal: true}); err != nil {
		t.Fatal(err)
	}
	c, _ := connectRaw(t, addr, codec.V5, "watcher", nil)
	c.subscribe(1, 0, sub5filter("loop"))
	if k, err := sub.Publish("loop", []byte("out"), 0, false); err != nil || k != 1 {
		t.Fatalf("Publish: %d receivers, %v", k, err)
	}
	if m := c.recvPublish(); string(m.Payload) != "out" {
		t.Fatal(string(m.Payload))
	}

	// A shared group across an internal subscriber and a client: one delivery per message.
	if err := sub.Subscribe("$share/g/s", SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	c.subscribe(2, 0, sub5filter("$share/g/s"))
	before := len(col.wait(t, 1))
	const total = 20
	for k := range total {
		if _, err := n.Publish("s", []byte(strconv.Itoa(k)), 0, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // both sides have what they get
	col.mu.Lock()
	toSub := len(col.got) - before
	col.mu.Unlock()
	for range total - toSub {
		c.recvPublish()
	}
	c.silent(100 * time.Millisecond)
	if toSub == 0 || toSub == total {
		t.Fatalf("shared group: %d of %d to the internal subscriber: not shared", toSub, total)
	}

	sub.Close()
	if len(sub.Subscriptions()) != 0 {
		t.Fatal("subscriptions left after Close")
	}
	if err := sub.Subscribe("x", SubscribeOptions{}); err != ErrSubscriberClosed {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func sub5filter(f string) codec.Subscription { return sub(f, 0) }
