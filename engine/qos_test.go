package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestQoS2InboundExactlyOnce(t *testing.T) {
	_, addr := testNode(t, nil)
	s, _ := connectRaw(t, addr, codec.V311, "s", nil)
	s.subscribe(1, 0, sub("x", 2))
	p, _ := connectRaw(t, addr, codec.V5, "p", nil)
	msg := &codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: 5, Payload: []byte("once")}
	p.publish(msg)
	if a := p.recvAck(codec.TypePubrec); a.PacketID != 5 || a.Code != 0 {
		t.Fatalf("PUBREC %+v", a)
	}
	msg.Dup = true
	p.publish(msg) // retransmission before PUBREL: acknowledged, not routed again
	if a := p.recvAck(codec.TypePubrec); a.PacketID != 5 {
		t.Fatalf("PUBREC %+v", a)
	}
	p.ack(codec.TypePubrel, 5)
	if a := p.recvAck(codec.TypePubcomp); a.PacketID != 5 || a.Code != 0 {
		t.Fatalf("PUBCOMP %+v", a)
	}
	got := s.recvPublish()
	if string(got.Payload) != "once" || got.QoS != 2 {
		t.Fatalf("got %+v", got)
	}
	s.ack(codec.TypePubrec, got.PacketID)
	if a := s.recvAck(codec.TypePubrel); a.PacketID != got.PacketID {
		t.Fatalf("PUBREL %+v", a)
	}
	s.ack(codec.TypePubcomp, got.PacketID)
	s.silent(300 * time.Millisecond) // delivered exactly once
	// PUBREL for an unknown id: PUBCOMP 0x92 in MQTT 5.
	p.ack(codec.TypePubrel, 77)
	if a := p.recvAck(codec.TypePubcomp); a.Code != codec.PacketIdentifierNotFound {
		t.Fatalf("PUBCOMP %v, want 0x92", a.Code)
	}
}

func TestMaxAwaitingRelAndTimeout(t *testing.T) {
	_, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.MaxAwaitingRel = 2
		c.Listeners[0].Zone.AwaitRelTimeout = 300 * time.Millisecond
	})
	// max_awaiting_rel is announced as the Receive Maximum; exceeding it is a protocol
	// error [MQTT-3.3.4-9].
	p, ack := connectRaw(t, addr, codec.V5, "p", nil)
	if !ack.Props.Has(codec.PropReceiveMaximum) || ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("Receive Maximum %d, want 2", ack.Props.ReceiveMaximum)
	}
	for id := uint16(1); id <= 3; id++ {
		p.publish(&codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: id, Payload: []byte("m")})
	}
	p.recvAck(codec.TypePubrec)
	p.recvAck(codec.TypePubrec)
	if code := p.disconnectPacket(); code != codec.ReceiveMaximumExceeded {
		t.Fatalf("got %v, want DISCONNECT 0x93", code)
	}
	// await_rel_timeout forgets identifiers whose PUBREL never came.
	p, _ = connectRaw(t, addr, codec.V5, "p2", nil)
	p.publish(&codec.Publish{Topic: []byte("x"), QoS: 2, PacketID: 1, Payload: []byte("m")})
	p.recvAck(codec.TypePubrec)
	time.Sleep(600 * time.Millisecond)
	p.ack(codec.TypePubrel, 1)
	if a := p.recvAck(codec.TypePubcomp); a.Code != codec.PacketIdentifierNotFound {
		t.Fatalf("PUBCOMP after await_rel_timeout: %v, want 0x92", a.Code)
	}
}

func TestInflightWindowAndReceiveMaximum(t *testing.T) {
	_, addr := testNode(t, nil)
	s, _ := connectRaw(t, addr, codec.V5, "s", func(c *codec.Connect) { c.Props.SetReceiveMaximum(2) })
	s.subscribe(1, 0, sub("w", 1))
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	for i := range 5 {
		p.publish(&codec.Publish{Topic: []byte("w"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte{byte('0' + i)}})
		p.recvAck(codec.TypePuback)
	}
	a := s.recvPublish()
	b := s.recvPublish()
	if a.PacketID == b.PacketID || a.PacketID == 0 || b.PacketID == 0 {
		t.Fatalf("packet ids %d %d", a.PacketID, b.PacketID)
	}
	s.silent(300 * time.Millisecond) // the window of 2 is full
	s.ack(codec.TypePuback, a.PacketID)
	c := s.recvPublish()
	if string(c.Payload) != "2" || c.PacketID == b.PacketID {
		t.Fatalf("third message %q id %d", c.Payload, c.PacketID)
	}
	s.silent(200 * time.Millisecond)
	s.ack(codec.TypePuback, b.PacketID)
	s.ack(codec.TypePuback, c.PacketID)
	for _, want := range []string{"3", "4"} {
		m := s.recvPublish()
		if string(m.Payload) != want {
			t.Fatalf("got %q, want %q (order)", m.Payload, want)
		}
		s.ack(codec.TypePuback, m.PacketID)
	}
}

func TestRedeliveryWithDupOnReconnect(t *testing.T) {
	_, addr := testNode(t, nil)
	persistent := func(c *codec.Connect) { c.CleanStart = false }
	s, _ := connectRaw(t, addr, codec.V311, "s", persistent)
	s.subscribe(1, 0, sub("d", 2))
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("d"), QoS: 1, PacketID: 1, Payload: []byte("q1")})
	p.publish(&codec.Publish{Topic: []byte("d"), QoS: 2, PacketID: 2, Payload: []byte("q2")})
	m1 := s.recvPublish()
	m2 := s.recvPublish()
	if m1.Dup || m2.Dup {
		t.Fatal("first transmission with DUP")
	}
	s.ack(codec.TypePubrec, m2.PacketID) // q2 moves to the PUBREL stage
	s.recvAck(codec.TypePubrel)
	s.c.Close() // no acks for q1, no PUBCOMP for q2

	s, ack := connectRaw(t, addr, codec.V311, "s", persistent)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	r1 := s.recvPublish()
	if !r1.Dup || r1.PacketID != m1.PacketID || string(r1.Payload) != "q1" {
		t.Fatalf("redelivery %+v, want DUP q1 with id %d", r1, m1.PacketID)
	}
	if a := s.recvAck(codec.TypePubrel); a.PacketID != m2.PacketID {
		t.Fatalf("PUBREL resent for %d, want %d", a.PacketID, m2.PacketID)
	}
	s.ack(codec.TypePuback, r1.PacketID)
	s.ack(codec.TypePubcomp, m2.PacketID)
	s.silent(300 * time.Millisecond)
}

func TestRetryInterval311(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.RetryInterval = 300 * time.Millisecond })
	s, _ := connectRaw(t, addr, codec.V311, "s", nil)
	s.subscribe(1, 0, sub("r", 1))
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("r"), QoS: 1, PacketID: 1, Payload: []byte("again")})
	first := s.recvPublish()
	again := s.recvPublish()
	if !again.Dup || again.PacketID != first.PacketID {
		t.Fatalf("retry %+v, want DUP with id %d", again, first.PacketID)
	}
	s.ack(codec.TypePuback, first.PacketID)
	s.silent(500 * time.Millisecond)

	// MQTT 5 clients are not retried on a live connection [MQTT-4.4.0-1].
	s5, _ := connectRaw(t, addr, codec.V5, "s5", nil)
	s5.subscribe(1, 0, sub("r5", 1))
	p.publish(&codec.Publish{Topic: []byte("r5"), QoS: 1, PacketID: 2, Payload: []byte("once")})
	s5.recvPublish()
	s5.silent(600 * time.Millisecond)
}

func TestMaxQoSAllowedAndUpgrade(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxQoSAllowed = 1 })
	s, _ := connectRaw(t, addr, codec.V5, "s", nil)
	if codes := s.subscribe(1, 0, sub("q", 2)); codes[0] != 1 {
		t.Fatalf("granted %v, want 1", codes)
	}
	p, _ := connectRaw(t, addr, codec.V5, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("q"), QoS: 2, PacketID: 1, Payload: []byte("x")})
	if code := p.disconnectPacket(); code != codec.QoSNotSupported {
		t.Fatalf("got %v, want 0x9B", code)
	}

	_, addr = testNode(t, func(c *Config) { c.Listeners[0].Zone.UpgradeQoS = true })
	s, _ = connectRaw(t, addr, codec.V311, "s", nil)
	s.subscribe(1, 0, sub("u", 2))
	p, _ = connectRaw(t, addr, codec.V311, "p", nil)
	p.publish(&codec.Publish{Topic: []byte("u"), QoS: 0, Payload: []byte("up")})
	if m := s.recvPublish(); m.QoS != 2 {
		t.Fatalf("upgrade_qos: delivered at QoS %d, want 2", m.QoS)
	}
}
