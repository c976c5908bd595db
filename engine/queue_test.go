package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// persistent5 connects a paho v5 client with clean start false and a session expiry.
func persistent5(t *testing.T, addr, id string, r *received) (*paho.Client, *paho.Connack) {
	t.Helper()
	return v5(t, addr, &paho.Connect{ClientID: id, CleanStart: false,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}}, r)
}

// offlineSub5 creates a persistent v5 session subscribed to filter and takes it offline.
func offlineSub5(t *testing.T, n *Node, addr, id, filter string, qos byte) {
	t.Helper()
	open := n.Stats().Connections
	c, _ := persistent5(t, addr, id, nil)
	sub5(t, c, filter, qos)
	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	waitConns(t, n, open)
}

func TestOfflineQueueV311(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	got := make(chan mqtt.Message, 100)
	opts := func(id string, clean bool) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
			SetAutoReconnect(false).SetCleanSession(clean).
			SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m })
	}
	connect := func(o *mqtt.ClientOptions) mqtt.Client {
		t.Helper()
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c
	}
	sub := connect(opts("q311", false))
	if tok := sub.Subscribe("q/#", 2, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	sub.Disconnect(100)
	waitConns(t, n, 0)

	pub := connect(opts("p311", true))
	defer pub.Disconnect(100)
	const total = 10
	for i := 0; i < total; i++ {
		if tok := pub.Publish(fmt.Sprintf("q/%d", i), byte(1+i%2), false, fmt.Sprint(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	sub = connect(opts("q311", false))
	defer sub.Disconnect(100)
	for i := 0; i < total; i++ {
		select {
		case m := <-got:
			if m.Topic() != fmt.Sprintf("q/%d", i) || string(m.Payload()) != fmt.Sprint(i) || m.Qos() != byte(1+i%2) {
				t.Fatalf("message %d: got %s %q qos %d", i, m.Topic(), m.Payload(), m.Qos())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d of %d queued messages", i, total)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("extra message %s %q", m.Topic(), m.Payload())
	case <-time.After(200 * time.Millisecond):
	}
}

func TestOfflineQueueV5(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	offlineSub5(t, n, addr, "q5", "q/#", 2)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "p5", CleanStart: true}, nil)
	const total = 10
	for i := 0; i < total; i++ {
		pub5(t, pub, fmt.Sprintf("q/%d", i), byte(1+i%2), fmt.Sprint(i))
	}
	r := newReceived()
	_, ca := persistent5(t, addr, "q5", r)
	if !ca.SessionPresent {
		t.Fatal("session not present")
	}
	for i := 0; i < total; i++ {
		if p := r.expectMsg(t, fmt.Sprintf("q/%d", i), fmt.Sprint(i)); p.QoS != byte(1+i%2) {
			t.Fatalf("message %d at QoS %d", i, p.QoS)
		}
	}
	fence(t, n, r, "q/fence")
}

func TestMaxMqueueLenDropsOldest(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxMqueueLen = 3 })
	offlineSub5(t, n, addr, "small", "q/#", 1)
	before := n.Stats().MessagesDropped
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "p", CleanStart: true}, nil)
	const total = 8
	for i := 0; i < total; i++ {
		pub5(t, pub, "q/x", 1, fmt.Sprint(i))
	}
	waitFor(t, 5*time.Second, "5 drops counted", func() bool { return n.Stats().MessagesDropped-before == total-3 })
	r := newReceived()
	persistent5(t, addr, "small", r)
	for i := total - 3; i < total; i++ { // the newest are kept
		r.expectMsg(t, "q/x", fmt.Sprint(i))
	}
	fence(t, n, r, "q/fence")
	if d := n.Stats().MessagesDropped - before; d != total-3 {
		t.Fatalf("MessagesDropped grew by %d, want %d", d, total-3)
	}
}

func TestMqueueStoreQoS0(t *testing.T) {
	t.Parallel()
	for _, store := range []bool{true, false} {
		t.Run(fmt.Sprint(store), func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MqueueStoreQoS0 = store })
			offlineSub5(t, n, addr, "s", "q/#", 1)
			pub, _ := v5(t, addr, &paho.Connect{ClientID: "p", CleanStart: true}, nil)
			pub5(t, pub, "q/0", 0, "qos0")
			pub5(t, pub, "q/1", 1, "qos1")
			r := newReceived()
			persistent5(t, addr, "s", r)
			if store {
				if p := r.expectMsg(t, "q/0", "qos0"); p.QoS != 0 {
					t.Fatalf("qos %d", p.QoS)
				}
			}
			r.expectMsg(t, "q/1", "qos1")
			fence(t, n, r, "q/fence")
		})
	}
}

func TestDropsCountedForBrokerPublishedMessages(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxMqueueLen = 1 })
	offlineSub5(t, n, addr, "small", "q/#", 1)
	before := n.Stats().MessagesDropped
	// Node.Publish routes outside the event loops (as wills, $SYS and the API do).
	for i := 0; i < 3; i++ {
		if _, err := n.Publish("q/x", []byte(fmt.Sprint(i)), 1, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "2 drops counted", func() bool { return n.Stats().MessagesDropped-before == 2 })
	r := newReceived()
	persistent5(t, addr, "small", r)
	r.expectMsg(t, "q/x", "2")
}
