package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestRetainHandlingAndRetainAsPublished(t *testing.T) {
	_, addr := testNode(t, nil)
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("rh/1"), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("kept")})
	p.recvAck(codec.TypePuback)

	s, _ := connectRaw(t, addr, codec.V5, "s", nil)
	opt := func(filter string, h byte, rap bool) codec.Subscription {
		return codec.Subscription{Filter: []byte(filter), QoS: 0, RetainHandling: h, RetainAsPublished: rap}
	}
	retained := func(what string) {
		t.Helper()
		if m := s.recvPublish(); !m.Retain || string(m.Payload) != "kept" {
			t.Fatalf("%s: got %+v, want the retained message with RETAIN", what, m)
		}
	}
	// 0: retained messages at every subscribe, with RETAIN set [MQTT-3.3.1-9].
	s.subscribe(1, 0, opt("rh/#", 0, false))
	retained("RH 0, new")
	s.subscribe(2, 0, opt("rh/#", 0, false))
	retained("RH 0, existing")
	// 1: only when the subscription is new [MQTT-3.3.1-10].
	s.subscribe(3, 0, opt("rh/+", 1, false))
	retained("RH 1, new")
	s.subscribe(4, 0, opt("rh/+", 1, false))
	// 2: never [MQTT-3.3.1-11].
	s.subscribe(5, 0, opt("rh/1", 2, false))
	s.silent(300 * time.Millisecond)

	// Retain As Published: a live retained publish keeps RETAIN only for RAP subscriptions.
	s2, _ := connectRaw(t, addr, codec.V5, "s2", nil)
	s2.subscribe(1, 0, opt("live/rap", 2, true), opt("live/norap", 2, false))
	p.publish(&codec.Publish{Topic: []byte("live/rap"), Retain: true, Payload: []byte("a")})
	p.publish(&codec.Publish{Topic: []byte("live/norap"), Retain: true, Payload: []byte("b")})
	if m := s2.recvPublish(); !m.Retain || string(m.Topic) != "live/rap" {
		t.Fatalf("RAP: %+v, want RETAIN kept", m)
	}
	if m := s2.recvPublish(); m.Retain || string(m.Topic) != "live/norap" {
		t.Fatalf("no RAP: %+v, want RETAIN cleared [MQTT-3.3.1-12]", m)
	}
}

func TestRetainNotAvailable(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.RetainAvailable = false })
	p, _ := connectRaw(t, addr, codec.V5, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("t"), Retain: true, Payload: []byte("x")})
	if code := p.disconnectPacket(); code != codec.RetainNotSupported {
		t.Fatalf("got %v, want 0x9A", code)
	}
}

func TestOverlappingSubscriptions(t *testing.T) {
	_, addr := testNode(t, nil)
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	// MQTT 5: one copy carrying both subscription identifiers, at the highest QoS.
	s5, _ := connectRaw(t, addr, codec.V5, "s5", nil)
	s5.subscribe(1, 11, sub("o/+", 0))
	s5.subscribe(2, 22, sub("o/#", 1))
	// MQTT 3.1.1: one copy at the maximum QoS of the matching subscriptions.
	s3, _ := connectRaw(t, addr, codec.V311, "s3", nil)
	s3.subscribe(1, 0, sub("o/+", 0), sub("o/#", 1))

	p.publish(&codec.Publish{Topic: []byte("o/x"), QoS: 1, PacketID: 1, Payload: []byte("m")})
	p.recvAck(codec.TypePuback)
	m := s5.recvPublish()
	ids := slices.Clone(m.Props.SubscriptionIDs)
	slices.Sort(ids)
	if m.QoS != 1 || !slices.Equal(ids, []uint32{11, 22}) {
		t.Fatalf("v5 copy: qos %d ids %v, want qos 1 ids [11 22]", m.QoS, ids)
	}
	s5.silent(200 * time.Millisecond)
	if m := s3.recvPublish(); m.QoS != 1 {
		t.Fatalf("v3 copy at qos %d, want 1", m.QoS)
	}
	s3.silent(200 * time.Millisecond)
}

func TestNoLocalAndIgnoreLoopDeliver(t *testing.T) {
	_, addr := testNode(t, nil)
	a, _ := connectRaw(t, addr, codec.V5, "a", nil)
	a.subscribe(1, 0, codec.Subscription{Filter: []byte("chat"), NoLocal: true})
	b, _ := connectRaw(t, addr, codec.V5, "b", nil)
	b.subscribe(1, 0, sub("chat", 0))
	a.publish(&codec.Publish{Topic: []byte("chat"), Payload: []byte("from a")})
	if m := b.recvPublish(); string(m.Payload) != "from a" {
		t.Fatal(m)
	}
	a.silent(300 * time.Millisecond) // [MQTT-3.8.3-3]

	_, addr = testNode(t, func(c *Config) { c.Listeners[0].Zone.IgnoreLoopDeliver = true })
	c, _ := connectRaw(t, addr, codec.V311, "c", nil)
	c.subscribe(1, 0, sub("loop", 0))
	c.publish(&codec.Publish{Topic: []byte("loop"), Payload: []byte("mine")})
	c.silent(300 * time.Millisecond)
}

func TestSubackUnsubackCodesAndLimits(t *testing.T) {
	_, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.MaxSubscriptions = 2
		c.Listeners[0].Zone.WildcardSubscription = false
	})
	s, _ := connectRaw(t, addr, codec.V5, "s", nil)
	codes := s.subscribe(1, 0, sub("a", 0), sub("b", 1), sub("c", 2), sub("d/+", 1))
	want := []codec.ReasonCode{0, 1, codec.QuotaExceeded, codec.WildcardSubscriptionsNotSupported}
	if !slices.Equal(codes, want) {
		t.Fatalf("SUBACK %v, want %v", codes, want)
	}
	// Re-subscribing to an existing filter does not count against the limit.
	if codes := s.subscribe(2, 0, sub("a", 2)); codes[0] != 2 {
		t.Fatalf("re-subscribe %v", codes)
	}
	s.send(codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a"), []byte("zz")}}, codec.V5))
	var ua codec.Unsuback
	if err := ua.Decode(s.expect(codec.TypeUnsuback), codec.V5); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ua.Codes, []codec.ReasonCode{codec.Success, codec.NoSubscriptionExisted}) {
		t.Fatalf("UNSUBACK %v", ua.Codes)
	}
	// MQTT 3.1.1 has one failure code.
	s3, _ := connectRaw(t, addr, codec.V311, "s3", nil)
	if codes := s3.subscribe(1, 0, sub("x/#", 0)); codes[0] != 0x80 {
		t.Fatalf("3.1.1 failure %v, want 0x80", codes)
	}
}
