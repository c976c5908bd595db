package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// aliased builds an MQTT 5 PUBLISH with a topic alias.
func aliased(topic string, alias uint16, id uint16, payload string) *codec.Publish {
	p := &codec.Publish{Topic: []byte(topic), QoS: 1, PacketID: id, Payload: []byte(payload)}
	p.Props.SetTopicAlias(alias)
	return p
}

func TestTopicAliasInbound(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxTopicAlias = 5 })
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	sub5(t, s, "ta/#", 1)

	c, ack := mustConnect(t, addr, codec.V5, "aliaser", nil)
	if ack.Props.TopicAliasMaximum != 5 {
		t.Fatalf("CONNACK Topic Alias Maximum %d, want 5", ack.Props.TopicAliasMaximum)
	}
	steps := []struct {
		topic, want string
		alias       uint16
	}{
		{"ta/1", "ta/1", 1}, // establish
		{"", "ta/1", 1},     // use
		{"ta/2", "ta/2", 1}, // remap
		{"", "ta/2", 1},
		{"ta/5", "ta/5", 5}, // the maximum itself is valid
		{"", "ta/5", 5},
		{"", "ta/2", 1},
	}
	for i, st := range steps {
		id := uint16(i + 1)
		c.publish(aliased(st.topic, st.alias, id, st.want))
		if a := c.recvAck(codec.TypePuback); a.PacketID != id || a.Code != 0 {
			t.Fatalf("step %d: PUBACK %d %v", i, a.PacketID, a.Code)
		}
		p := r.expectMsg(t, st.want, st.want)
		if p.Properties != nil && p.Properties.TopicAlias != nil {
			t.Fatalf("step %d: the client's topic alias was forwarded: %d", i, *p.Properties.TopicAlias)
		}
	}
	fence(t, n, r, "ta/fence")

	for _, tc := range []struct {
		name  string
		p     *codec.Publish
		code  codec.ReasonCode
		fresh bool
	}{
		{"alias 0", aliased("ta/x", 0, 1, "x"), codec.TopicAliasInvalid, true},
		{"alias above the maximum", aliased("ta/x", 6, 1, "x"), codec.TopicAliasInvalid, true},
		{"alias never established", aliased("", 2, 1, "x"), codec.ProtocolError, true},
		// Aliases belong to a network connection, not to the session.
		{"alias from an earlier connection", aliased("", 1, 1, "x"), codec.ProtocolError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "alias-bad"
			if !tc.fresh {
				id = "aliaser" // takes over the connection that established alias 1
			}
			bad, _ := mustConnect(t, addr, codec.V5, id, nil)
			bad.publish(tc.p)
			bad.closedWith(tc.code)
		})
	}
	fence(t, n, r, "ta/fence")
}

func TestClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "small", CleanStart: true,
		Properties: &paho.ConnectProperties{MaximumPacketSize: u32(256)}}, r)
	sub5(t, s, "mps/#", 1)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	before := n.Stats().MessagesDropped
	for _, size := range []int{100, 1000, 250, 200} {
		for qos := byte(0); qos <= 1; qos++ {
			pub5(t, pub, "mps/x", qos, strings.Repeat("x", size))
		}
	}
	for _, size := range []int{100, 200} { // a 250-byte payload plus header exceeds 256
		for qos := byte(0); qos <= 1; qos++ {
			if p := r.expectMsg(t, "mps/x", strings.Repeat("x", size)); p.QoS != qos {
				t.Fatalf("qos %d, want %d", p.QoS, qos)
			}
		}
	}
	fence(t, n, r, "mps/fence")
	waitFor(t, 5*time.Second, "oversized deliveries counted as dropped", func() bool { return n.Stats().MessagesDropped-before >= 4 })
	// The dropped QoS 1 deliveries did not leak inflight slots: many more still flow.
	for i := 0; i < 100; i++ {
		pub5(t, pub, "mps/x", 1, "y")
	}
	for i := 0; i < 100; i++ {
		r.expectMsg(t, "mps/x", "y")
	}
}

func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	// Live: the subscriber sees the interval the publisher set.
	live := newReceived()
	ls, _ := v5(t, addr, &paho.Connect{ClientID: "live", CleanStart: true}, live)
	sub5(t, ls, "exp/#", 1)
	// Offline: a persistent session that collects messages while away.
	offlineSub5(t, n, addr, "away", "exp/#", 1)

	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	for _, m := range []struct {
		payload string
		expiry  *uint32
	}{{"short", u32(1)}, {"long", u32(100)}, {"forever", nil}} {
		if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "exp/x", QoS: 1, Payload: []byte(m.payload),
			Properties: &paho.PublishProperties{MessageExpiry: m.expiry}}); err != nil {
			t.Fatal(err)
		}
		p := live.expectMsg(t, "exp/x", m.payload)
		switch {
		case m.expiry == nil && p.Properties != nil && p.Properties.MessageExpiry != nil:
			t.Fatalf("%s: expiry %d added", m.payload, *p.Properties.MessageExpiry)
		case m.expiry != nil && (p.Properties == nil || p.Properties.MessageExpiry == nil || *p.Properties.MessageExpiry != *m.expiry):
			t.Fatalf("%s: expiry not passed on: %+v", m.payload, p.Properties)
		}
	}
	// Retained copies expire too.
	if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "exp/kept/short", QoS: 1, Retain: true, Payload: []byte("short"),
		Properties: &paho.PublishProperties{MessageExpiry: u32(1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "exp/kept/long", QoS: 1, Retain: true, Payload: []byte("long"),
		Properties: &paho.PublishProperties{MessageExpiry: u32(100)}}); err != nil {
		t.Fatal(err)
	}
	live.expectMsg(t, "exp/kept/short", "short")
	live.expectMsg(t, "exp/kept/long", "long")
	expiredBefore := n.Stats().MessagesExpired
	time.Sleep(1500 * time.Millisecond) // the time that passes is what is tested
	rr := newReceived()
	late, _ := v5(t, addr, &paho.Connect{ClientID: "late", CleanStart: true}, rr)
	sub5(t, late, "fence/late", 1)
	sub5(t, late, "exp/kept/#", 1)
	if p := rr.expectMsg(t, "exp/kept/long", "long"); !p.Retain || p.Properties == nil || p.Properties.MessageExpiry == nil || *p.Properties.MessageExpiry > 99 {
		t.Fatalf("retained message with expiry: retain %v properties %+v", p.Retain, p.Properties)
	}
	fence(t, n, rr, "fence/late") // the expired retained message was not sent
	r := newReceived()
	persistent5(t, addr, "away", r)
	p := r.expectMsg(t, "exp/x", "long") // "short" expired in the queue
	if p.Properties == nil || p.Properties.MessageExpiry == nil {
		t.Fatal("queued message lost its expiry")
	}
	if left := *p.Properties.MessageExpiry; left > 99 || left < 90 {
		t.Fatalf("queued message expiry %d, want counted down from 100 by the 1.5s it waited", left)
	}
	if p := r.expectMsg(t, "exp/x", "forever"); p.Properties != nil && p.Properties.MessageExpiry != nil {
		t.Fatalf("expiry %d added to a message without one", *p.Properties.MessageExpiry)
	}
	r.expectMsg(t, "exp/kept/long", "long")
	fence(t, n, r, "exp/fence")
	waitFor(t, 5*time.Second, "the expired message counted", func() bool { return n.Stats().MessagesExpired > expiredBefore })
}

func TestPayloadFormatInvalid(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	sub5(t, s, "pf/#", 2)
	bad := func(qos byte, id uint16) *codec.Publish {
		p := &codec.Publish{Topic: []byte("pf/x"), QoS: qos, PacketID: id, Payload: []byte{'a', 0xFF, 'b'}}
		p.Props.SetPayloadFormat(1)
		return p
	}
	c, _ := mustConnect(t, addr, codec.V5, "pfi", nil)
	c.publish(bad(1, 1))
	if a := c.recvAck(codec.TypePuback); a.PacketID != 1 || a.Code != codec.PayloadFormatInvalid || len(a.Props.ReasonString) == 0 {
		t.Fatalf("QoS 1: PUBACK %d %v reason %q, want 0x99 with a reason string", a.PacketID, a.Code, a.Props.ReasonString)
	}
	c.publish(bad(2, 2))
	if a := c.recvAck(codec.TypePubrec); a.PacketID != 2 || a.Code != codec.PayloadFormatInvalid {
		t.Fatalf("QoS 2: PUBREC %d %v, want 0x99", a.PacketID, a.Code)
	}
	// Valid UTF-8 with the indicator goes through, indicator included; id 2 is free again.
	good := &codec.Publish{Topic: []byte("pf/x"), QoS: 2, PacketID: 2, Payload: []byte("héllo")}
	good.Props.SetPayloadFormat(1)
	c.publish(good)
	if a := c.recvAck(codec.TypePubrec); a.Code != 0 {
		t.Fatalf("valid UTF-8: PUBREC %v", a.Code)
	}
	c.send(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePubrel, PacketID: 2}, codec.V5))
	c.recvAck(codec.TypePubcomp)
	p := r.expectMsg(t, "pf/x", "héllo")
	if p.Properties == nil || p.Properties.PayloadFormat == nil || *p.Properties.PayloadFormat != 1 {
		t.Fatalf("payload format indicator not passed on: %+v", p.Properties)
	}
	// QoS 0 has no acknowledgement to carry the refusal: the connection is closed with 0x99.
	c.publish(bad(0, 0))
	c.closedWith(codec.PayloadFormatInvalid)
	fence(t, n, r, "pf/fence")

	// Request Problem Information 0: the same refusal carries no reason string.
	q, _ := mustConnect(t, addr, codec.V5, "quiet", func(p *codec.Connect) { p.Props.SetRequestProblemInfo(0) })
	q.publish(bad(1, 9))
	if a := q.recvAck(codec.TypePuback); a.Code != codec.PayloadFormatInvalid || a.Props.Has(codec.PropReasonString) || len(a.Props.User) != 0 {
		t.Fatalf("PUBACK %v with reason string %q / user properties %v, want 0x99 without them", a.Code, a.Props.ReasonString, a.Props.User)
	}
	q.publish(bad(2, 10))
	if a := q.recvAck(codec.TypePubrec); a.Code != codec.PayloadFormatInvalid || a.Props.Has(codec.PropReasonString) {
		t.Fatalf("PUBREC %v with reason string %q, want 0x99 without one", a.Code, a.Props.ReasonString)
	}
}

func TestPropertiesPassedThrough(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	live := newReceived()
	ls, _ := v5(t, addr, &paho.Connect{ClientID: "live", CleanStart: true}, live)
	sub5(t, ls, "props/#", 2)
	offlineSub5(t, n, addr, "away", "props/#", 2)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	one := byte(1)
	want := &paho.PublishProperties{
		ContentType:     "application/json; charset=utf-8",
		ResponseTopic:   "props/reply/é",
		CorrelationData: []byte{0, 1, 2, 0xFF},
		PayloadFormat:   &one,
		User:            paho.UserProperties{{Key: "k", Value: "1"}, {Key: "a", Value: ""}, {Key: "k", Value: "2"}},
	}
	check := func(p *paho.Publish, qos byte) {
		t.Helper()
		got := p.Properties
		if got == nil || got.ContentType != want.ContentType || got.ResponseTopic != want.ResponseTopic ||
			!bytes.Equal(got.CorrelationData, want.CorrelationData) || got.PayloadFormat == nil || *got.PayloadFormat != 1 {
			t.Fatalf("qos %d: properties %+v, want %+v", qos, got, want)
		}
		if len(got.User) != len(want.User) {
			t.Fatalf("qos %d: user properties %v, want %v", qos, got.User, want.User)
		}
		for i := range want.User {
			if got.User[i] != want.User[i] {
				t.Fatalf("qos %d: user properties %v, want %v (order kept)", qos, got.User, want.User)
			}
		}
	}
	for qos := byte(0); qos <= 2; qos++ {
		if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "props/x", QoS: qos, Payload: []byte("{}"), Properties: want}); err != nil {
			t.Fatal(err)
		}
		check(live.expectMsg(t, "props/x", "{}"), qos)
	}
	// The same after waiting in an offline queue.
	r := newReceived()
	persistent5(t, addr, "away", r)
	for qos := byte(0); qos <= 2; qos++ {
		check(r.expectMsg(t, "props/x", "{}"), qos)
	}
}

func TestAuthPacketRejected(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, nil)
	b := newBystander(t, addr, "by")
	t.Run("AUTH without an authentication method", func(t *testing.T) {
		c, _ := mustConnect(t, addr, codec.V5, "auth", nil)
		a := &codec.Auth{Code: codec.ContinueAuthentication}
		a.Props.SetAuthMethod([]byte("SCRAM-SHA-1"))
		c.send(codec.AppendAuth(nil, a))
		c.closedWith(codec.ProtocolError)
		b.check()
	})
	t.Run("AUTH below MQTT 5", func(t *testing.T) {
		c, _ := mustConnect(t, addr, codec.V311, "auth3", nil)
		c.send([]byte{0xF0, 0})
		c.closedSilently()
		b.check()
	})
	t.Run("CONNECT with an authentication method", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send(connectPacket(codec.V5, "enh", func(c *codec.Connect) {
			c.Props.SetAuthMethod([]byte("SCRAM-SHA-256"))
			c.Props.SetAuthData([]byte("client-first"))
		}))
		pkts := r.closed()
		var ack codec.Connack
		if len(pkts) != 1 || ack.Decode(pkts[0], codec.V5) != nil || ack.Code != codec.BadAuthenticationMethod {
			t.Fatalf("got % x, want one CONNACK 0x8C", pkts)
		}
		if ack.Props.Has(codec.PropAuthMethod) {
			t.Fatal("CONNACK 0x8C echoes an authentication method")
		}
		b.check()
	})
}

func TestReasonStringWithinClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, nil)
	// A PUBACK 0x99 with its reason string would exceed 16 bytes: the string must go
	// [MQTT-3.4.2-2] [MQTT-3.14.2-3].
	c, _ := mustConnect(t, addr, codec.V5, "tiny", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(16) })
	bad := &codec.Publish{Topic: []byte("pf/x"), QoS: 1, PacketID: 1, Payload: []byte{0xFF}}
	bad.Props.SetPayloadFormat(1)
	c.publish(bad)
	pkt := c.expect(codec.TypePuback)
	if len(pkt) > 16 {
		t.Fatalf("PUBACK of %d bytes to a client whose maximum is 16: % x", len(pkt), pkt)
	}
	var a codec.Ack
	if err := a.Decode(pkt, codec.V5); err != nil || a.Code != codec.PayloadFormatInvalid {
		t.Fatalf("PUBACK % x: %v %v", pkt, a.Code, err)
	}
	// The same for the DISCONNECT that closes the connection.
	bad.QoS, bad.PacketID = 0, 0
	c.publish(bad)
	pkts := c.closed()
	if len(pkts) != 1 || len(pkts[0]) > 16 {
		t.Fatalf("got % x before close, want one DISCONNECT of at most 16 bytes", pkts)
	}
}

func TestConnackReasonStringWithinClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) { c.AllowAnonymous = false })
	r := dialRaw(t, addr)
	r.send(connectPacket(codec.V5, "tiny", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(16) }))
	pkts := r.closed()
	var ack codec.Connack
	if len(pkts) != 1 || ack.Decode(pkts[0], codec.V5) != nil || ack.Code != codec.NotAuthorized {
		t.Fatalf("got % x, want one CONNACK 0x87", pkts)
	}
	if len(pkts[0]) > 16 {
		t.Fatalf("CONNACK of %d bytes to a client whose maximum is 16 [MQTT-3.2.2-19]: % x", len(pkts[0]), pkts[0])
	}
}
