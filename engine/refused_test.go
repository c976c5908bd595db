package engine

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// TestStoreRefusalReachesPublisher: with a store whose pending limit is smaller than a
// message, every write the publisher's acknowledgement depends on is refused by the store
// (kvlog.ErrTooLarge), and the publisher learns it: MQTT 5 gets PUBACK/PUBREC 0x97 with a
// reason string, MQTT 3.1.1 is disconnected. Refusals are counted. After a restart over the
// same store the refused messages are absent and the accepted ones present.
func TestStoreRefusalReachesPublisher(t *testing.T) {
	dir := t.TempDir()
	open := func() *sessions.Store {
		st, _, err := sessions.OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncAlways, MaxPending: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	n1, addr := testNode(t, func(c *Config) { c.Store = open() })
	big := []byte(strings.Repeat("x", 8<<10))
	persistent := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(600) }

	// A durable subscriber, offline.
	d, _ := connectRaw(t, addr, codec.V5, "durable", persistent)
	d.subscribe(1, 0, sub("q/#", 1))
	d.disconnect(0, nil)

	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub5", CleanStart: true}, nil)
	refused := func(what string, p *paho.Publish) {
		t.Helper()
		resp, _ := pub.Publish(ctx5(t), p) // paho returns an error with a >= 0x80 code
		if resp == nil || resp.ReasonCode != byte(codec.QuotaExceeded) {
			t.Fatalf("%s: got %+v, want reason code 0x97", what, resp)
		}
		if resp.Properties == nil || !strings.Contains(resp.Properties.ReasonString, "store") {
			t.Fatalf("%s: 0x97 without a reason string naming the store: %+v", what, resp.Properties)
		}
	}
	accepted := func(what string, p *paho.Publish) {
		t.Helper()
		resp, err := pub.Publish(ctx5(t), p)
		if err != nil || resp.ReasonCode >= 0x80 {
			t.Fatalf("%s: %+v %v", what, resp, err)
		}
	}
	refused("retained QoS 1 over the pending limit", &paho.Publish{Topic: "r/big", QoS: 1, Retain: true, Payload: big})
	refused("retained QoS 2 over the pending limit", &paho.Publish{Topic: "r/big2", QoS: 2, Retain: true, Payload: big})
	accepted("small retained", &paho.Publish{Topic: "r/small", QoS: 1, Retain: true, Payload: []byte("kept")})
	refused("QoS 1 for a durable session over the pending limit", &paho.Publish{Topic: "q/big", QoS: 1, Payload: big})
	accepted("small QoS 1 for a durable session", &paho.Publish{Topic: "q/small", QoS: 1, Payload: []byte("kept")})

	// A refused retained message is not served from memory either.
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "look", CleanStart: true}, r)
	sub5(t, s, "r/#", 0)
	if p := r.next(t); p.Topic != "r/small" {
		t.Fatalf("retained %q, want only r/small", p.Topic)
	}
	r.none(t, 200*time.Millisecond)

	// MQTT 3.1.1 has no code for it: the publisher is disconnected.
	lost := make(chan error, 1)
	c3 := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("pub3").SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err }))
	if tok := c3.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("3.1.1 connect: %v", tok.Error())
	}
	defer c3.Disconnect(0)
	tok := c3.Publish("r/big3", 1, true, big)
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("3.1.1 publisher of a refused retained message not disconnected (token done: %v)", tok.WaitTimeout(0))
	}

	waitFor(t, 5*time.Second, "messages.refused.store_unavailable >= 4", func() bool {
		return metric(n1, "messages.refused.store_unavailable") >= 4
	})
	if metric(n1, "store.writes_refused") == 0 {
		t.Fatal("store.writes_refused is 0 after refused writes")
	}
	stopNode(t, n1)

	_, addr2 := testNode(t, func(c *Config) { c.Store = open() })
	r2 := newReceived()
	s2, _ := v5(t, addr2, &paho.Connect{ClientID: "look", CleanStart: true}, r2)
	sub5(t, s2, "r/#", 0)
	if p := r2.next(t); p.Topic != "r/small" || string(p.Payload) != "kept" {
		t.Fatalf("after restart: retained %q %q, want r/small", p.Topic, p.Payload)
	}
	r2.none(t, 200*time.Millisecond)
	d, ack := connectRaw(t, addr2, codec.V5, "durable", persistent)
	if !ack.SessionPresent {
		t.Fatal("durable session not present after restart")
	}
	if got := d.recvAll(1); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("durable session after restart got %q, want [kept]", got)
	}
	d.silent(200 * time.Millisecond)
}
