package engine

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/codec"
)

var autoSubs = []AutoSubscription{
	{Topic: "$client/%c", QoS: 1},
	{Topic: "$user/%u", QoS: 1},
}

func withUser(u string) func(*codec.Connect) {
	return func(c *codec.Connect) { c.UsernameFlag, c.Username = true, []byte(u) }
}

// A client that connects is subscribed to $client/<id> and $user/<username> without sending
// SUBSCRIBE: the CONNACK comes first, then the retained message of its topic (no SUBACK), and
// live messages to either topic reach it.
func TestAutoSubscribe(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) { c.AutoSubscriptions = autoSubs })
	if _, err := n.Publish("$client/c1", []byte("kept"), 1, true, ""); err != nil {
		t.Fatal(err)
	}
	c1, ack := connectRaw(t, addr, codec.V5, "c1", withUser("u1")) // the CONNACK is read first
	if ack.Code != codec.Success {
		t.Fatalf("CONNACK %v", ack.Code)
	}
	p := c1.recvPublish() // not a SUBACK
	if string(p.Topic) != "$client/c1" || string(p.Payload) != "kept" || !p.Retain || p.QoS != 1 {
		t.Fatalf("after CONNACK: %q %q retain=%v qos=%d, want the retained message at QoS 1", p.Topic, p.Payload, p.Retain, p.QoS)
	}
	c1.ack(codec.TypePuback, p.PacketID)

	pub, _ := mustConnect(t, addr, codec.V5, "pub", nil)
	pubAcked(t, pub, "$client/c1", 1, 1, "to client")
	pubAcked(t, pub, "$user/u1", 1, 2, "to user")
	if got := c1.recvAll(2); got[0] != "to client" || got[1] != "to user" {
		t.Fatalf("c1 got %q", got)
	}
	pubAcked(t, pub, "$client/other", 1, 3, "not for c1")
	c1.silent(200 * time.Millisecond)
	if s := n.Stats().Subscriptions; s != 3 { // c1's two, pub's $client/pub
		t.Fatalf("%d subscriptions, want 3", s)
	}
}

// An MQTT 3.1.1 client (paho.mqtt.golang) gets the module's subscriptions too; one without a
// user name skips $user/%u, and a client id with a wildcard skips $client/%c (it would
// subscribe to every client's topic).
func TestAutoSubscribeV311(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) { c.AutoSubscriptions = autoSubs })
	got := make(chan mqtt.Message, 10)
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("c3").SetProtocolVersion(4).
		SetAutoReconnect(false).SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m })
	c3 := mqtt.NewClient(opts)
	if tok := c3.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c3.Disconnect(100)
	waitFor(t, 5*time.Second, "c3's subscription", func() bool { return n.Stats().Subscriptions == 1 })

	wild, _ := mustConnect(t, addr, codec.V311, "#", nil) // may connect, gets no subscription
	wild.silent(100 * time.Millisecond)
	if s := n.Stats().Subscriptions; s != 1 {
		t.Fatalf("%d subscriptions, want 1: $user/%%u without a user name and $client/# must be skipped", s)
	}
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
	pubAcked(t, pub, "$client/c3", 1, 1, "hello")
	select {
	case m := <-got:
		if m.Topic() != "$client/c3" || string(m.Payload()) != "hello" {
			t.Fatalf("c3 got %q %q", m.Topic(), m.Payload())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("c3 received nothing")
	}
	wild.silent(200 * time.Millisecond)
}

// A persistent session keeps the module's subscription while offline (messages are queued)
// and across a restart of the node with the module off: the subscription was stored like one
// from SUBSCRIBE. A reconnect does not duplicate it.
func TestAutoSubscribePersistentSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n1, addr := testNode(t, func(c *Config) { c.AutoSubscriptions = autoSubs; c.Store = openTestStore(t, dir) })
	persistent := func(c *codec.Connect) { c.CleanStart = false; withUser("u1")(c) }
	c1, _ := mustConnect(t, addr, codec.V311, "c1", persistent)
	c1.c.Close()
	waitConns(t, n1, 0)
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
	pubAcked(t, pub, "$client/c1", 1, 1, "queued")
	c1, ack := mustConnect(t, addr, codec.V311, "c1", persistent)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	if got := c1.recvAll(1); got[0] != "queued" {
		t.Fatalf("got %q", got)
	}
	if s := n1.Stats().Subscriptions; s != 3 { // c1's two, pub's $client/pub
		t.Fatalf("%d subscriptions after the resume, want 3", s)
	}
	c1.c.Close()
	pub.c.Close()
	waitConns(t, n1, 0)
	stopNode(t, n1)

	n2, addr2 := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) }) // module off
	pub, _ = mustConnect(t, addr2, codec.V311, "pub", nil)
	pubAcked(t, pub, "$user/u1", 1, 1, "after restart")
	c1, _ = mustConnect(t, addr2, codec.V311, "c1", persistent)
	if got := c1.recvAll(1); got[0] != "after restart" {
		t.Fatalf("got %q", got)
	}
	_ = n2
}

// With the module off nothing is subscribed; with a mountpoint the subscription is mounted;
// max_subscriptions applies.
func TestAutoSubscribeOffMountQuota(t *testing.T) {
	t.Parallel()
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		c1, _ := mustConnect(t, addr, codec.V5, "c1", withUser("u1"))
		pub, _ := mustConnect(t, addr, codec.V5, "pub", nil)
		pub.publish(&codec.Publish{Topic: []byte("$client/c1"), Payload: []byte("x"), QoS: 1, PacketID: 1})
		if a := pub.recvAck(codec.TypePuback); a.Code != codec.NoMatchingSubscribers {
			t.Fatalf("PUBACK %v, want no matching subscribers", a.Code)
		}
		c1.silent(200 * time.Millisecond)
		if s := n.Stats().Subscriptions; s != 0 {
			t.Fatalf("%d subscriptions", s)
		}
	})
	t.Run("mountpoint and quota", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, func(c *Config) {
			c.AutoSubscriptions = autoSubs
			z := *c.Listeners[0].Zone
			z.Mountpoint, z.MaxSubscriptions = "m/", 1
			c.Listeners[0].Zone = &z
		})
		c1, _ := mustConnect(t, addr, codec.V5, "c1", withUser("u1"))
		waitFor(t, 5*time.Second, "one subscription", func() bool { return n.Stats().Subscriptions == 1 })
		if _, err := n.Publish("m/$client/c1", []byte("mounted"), 0, false, ""); err != nil {
			t.Fatal(err)
		}
		if p := c1.recvPublish(); string(p.Topic) != "$client/c1" || string(p.Payload) != "mounted" {
			t.Fatalf("got %q %q", p.Topic, p.Payload)
		}
		// max_subscriptions = 1: $user/u1 was refused, and the client may not subscribe more.
		if codes := c1.subscribe(1, 0, sub("more", 0)); codes[0] != codec.QuotaExceeded {
			t.Fatalf("SUBACK %v, want quota exceeded", codes)
		}
		if _, err := n.Publish("m/$user/u1", []byte("no"), 0, false, ""); err != nil {
			t.Fatal(err)
		}
		c1.silent(200 * time.Millisecond)
	})
}

// The module's MQTT 5 options apply: rh = 2 sends no retained message, nl = 1 keeps the
// client's own messages from it.
func TestAutoSubscribeOptions(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) {
		c.AutoSubscriptions = []AutoSubscription{{Topic: "box/%c", QoS: 2, NoLocal: true, RetainHandling: 2}}
	})
	if _, err := n.Publish("box/c1", []byte("kept"), 1, true, ""); err != nil {
		t.Fatal(err)
	}
	r := newReceived()
	c1, _ := v5(t, addr, &paho.Connect{ClientID: "c1", CleanStart: true}, r)
	waitFor(t, 5*time.Second, "the subscription", func() bool { return n.Stats().Subscriptions == 1 })
	pub5(t, c1, "box/c1", 1, "own") // no local
	other, _ := v5(t, addr, &paho.Connect{ClientID: "other", CleanStart: true}, nil)
	pub5(t, other, "box/c1", 2, "from other")
	if p := r.expectMsg(t, "box/c1", "from other"); p.QoS != 2 || p.Retain {
		t.Fatalf("QoS %d retain %v", p.QoS, p.Retain)
	}
	r.none(t, 200*time.Millisecond)
}
