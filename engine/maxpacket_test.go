package engine

import (
	"fmt"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// richZone makes the default zone's CONNACK carry every capability property.
func richZone(c *Config) {
	z := c.Listeners[0].Zone
	z.ServerKeepalive = 20
	z.MaxQoSAllowed = 1
	z.RetainAvailable = false
	z.WildcardSubscription = false
	z.SharedSubscription = false
	z.MaxTopicAlias = 10
	z.MaxAwaitingRel = 50
	z.ResponseInformation = "reply/to/me"
}

// connackWithin connects with client Maximum Packet Size limit (and Request Response
// Information) and returns the raw CONNACK, nil when the broker closed without one.
func connackWithin(t *testing.T, addr, id string, limit uint32) (*client, []byte) {
	t.Helper()
	c := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	c.send(connectPacket(codec.V5, id, func(p *codec.Connect) {
		p.Props.SetMaximumPacketSize(limit)
		p.Props.SetRequestResponseInfo(1)
	}))
	if limit < 5 {
		c.closedSilently() // not even CONNACK's fixed part fits
		return c, nil
	}
	_, pkt := c.packet()
	return c, pkt
}

// TestConnackWithinClientMaximumPacketSize: a CONNACK larger than the client's Maximum Packet
// Size loses its optional properties until it fits; Server Keep Alive and the assigned client
// identifier stay; when even the smallest CONNACK does not fit, none is sent and the connection
// closes, without touching a session of that client id [MQTT-3.1.2-24].
func TestConnackWithinClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, richZone)
	_, full := connackWithin(t, addr, "full", 1<<20)
	var all codec.Connack
	if err := all.Decode(full, codec.V5); err != nil || !all.Props.Has(codec.PropResponseInfo) || !all.Props.Has(codec.PropTopicAliasMaximum) {
		t.Fatalf("CONNACK without a limit: % x (%v), want every property", full, err)
	}
	// The smallest CONNACK: fixed part, flags, code, properties with Server Keep Alive.
	smallest := 2 + 2 + 1 + 3
	prev := 0
	for limit := smallest; limit <= len(full); limit++ {
		c, pkt := connackWithin(t, addr, fmt.Sprint("m", limit), uint32(limit))
		if len(pkt) > limit {
			t.Fatalf("CONNACK of %d bytes to a client whose maximum is %d: % x", len(pkt), limit, pkt)
		}
		var ack codec.Connack
		if err := ack.Decode(pkt, codec.V5); err != nil || ack.Code != codec.Success {
			t.Fatalf("max %d: CONNACK % x: %v %v", limit, pkt, ack.Code, err)
		}
		if !ack.Props.Has(codec.PropServerKeepAlive) || ack.Props.ServerKeepAlive != 20 {
			t.Fatalf("max %d: Server Keep Alive left out: %+v", limit, ack.Props)
		}
		// Properties go only while needed: before the last one went (at most 14 bytes, the
		// Response Information), the CONNACK exceeded max.
		if len(pkt)+14 < limit || len(pkt) < prev {
			t.Fatalf("max %d: CONNACK of %d bytes dropped more than needed (previous limit gave %d): %+v", limit, len(pkt), prev, ack.Props)
		}
		prev = len(pkt)
		if limit == len(full) && len(pkt) != len(full) {
			t.Fatalf("max %d: CONNACK shrank to %d bytes although the whole one fits", limit, len(pkt))
		}
		c.disconnect(0, nil)
	}
	for _, limit := range []int{2, 4, smallest - 1} {
		t.Run(fmt.Sprint("below", limit), func(t *testing.T) {
			c := &client{rawConn: dialRaw(t, addr), v: codec.V5}
			c.send(connectPacket(codec.V5, "below", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(uint32(limit)) }))
			c.closedSilently()
		})
	}
	// The session of a client whose CONNACK could not be sent is left alone.
	live, _ := mustConnect(t, addr, codec.V5, "live", func(p *codec.Connect) { p.Props.SetSessionExpiry(60); p.CleanStart = false })
	c := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	c.send(connectPacket(codec.V5, "live", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(4) }))
	c.closedSilently()
	live.send(codec.AppendPingreq(nil))
	live.expect(codec.TypePingresp)

	// An assigned client identifier is never left out: it counts in the smallest CONNACK.
	a := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	a.send(connectPacket(codec.V5, "", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(uint32(smallest + 3)) }))
	a.closedSilently()
	a = &client{rawConn: dialRaw(t, addr), v: codec.V5}
	a.send(connectPacket(codec.V5, "", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(64) }))
	ack := a.connack()
	if ack.Code != codec.Success || len(ack.Props.AssignedClientID) == 0 {
		t.Fatalf("CONNACK %v without an assigned client identifier: %+v", ack.Code, ack.Props)
	}
}

// TestRefusedConnackWithinClientMaximumPacketSize: a refusing CONNACK loses its reason
// string, and is not sent at all when its fixed part exceeds the client's maximum.
func TestRefusedConnackWithinClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) { c.AllowAnonymous = false })
	r := dialRaw(t, addr)
	r.send(connectPacket(codec.V5, "small", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(5) }))
	pkts := r.closed()
	var ack codec.Connack
	if len(pkts) != 1 || len(pkts[0]) > 5 || ack.Decode(pkts[0], codec.V5) != nil || ack.Code != codec.NotAuthorized {
		t.Fatalf("got % x, want one CONNACK 0x87 of at most 5 bytes", pkts)
	}
	r = dialRaw(t, addr)
	r.send(connectPacket(codec.V5, "smaller", func(p *codec.Connect) { p.Props.SetMaximumPacketSize(4) }))
	r.closedSilently()
}

// TestSubackWithinClientMaximumPacketSize: a SUBSCRIBE or UNSUBSCRIBE whose acknowledgement
// would exceed the client's Maximum Packet Size is refused before it takes effect, with a
// DISCONNECT 0x95 that fits (its reason string left out).
func TestSubackWithinClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	persistent := func(limit uint32) func(*codec.Connect) {
		return func(p *codec.Connect) {
			p.CleanStart = false
			p.Props.SetSessionExpiry(60)
			p.Props.SetMaximumPacketSize(limit)
		}
	}
	// A SUBACK of 3 codes is 2 + 2 + 1 + 3 = 8 bytes.
	c, _ := mustConnect(t, addr, codec.V5, "s", persistent(8))
	if codes := c.subscribe(1, 0, sub("a/1", 1), sub("a/2", 1), sub("a/3", 1)); len(codes) != 3 {
		t.Fatalf("SUBACK codes %v", codes)
	}
	c.send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 2, Subs: []codec.Subscription{sub("b/1", 1), sub("b/2", 1), sub("b/3", 1), sub("b/4", 1)}}, codec.V5))
	pkts := c.closed()
	var d codec.Disconnect
	if len(pkts) != 1 || len(pkts[0]) > 8 || d.Decode(pkts[0], codec.V5) != nil || d.Code != codec.PacketTooLarge {
		t.Fatalf("got % x, want one DISCONNECT 0x95 of at most 8 bytes", pkts)
	}
	waitConns(t, n, 0)

	// The refused SUBSCRIBE took no effect; the UNSUBSCRIBE of four filters is refused too.
	c, ack := mustConnect(t, addr, codec.V5, "s", persistent(8))
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	c.send(codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a/1"), []byte("a/2"), []byte("a/3"), []byte("b/1")}}, codec.V5))
	if d := c.closedWith(codec.PacketTooLarge); len(d.Props.ReasonString) != 0 {
		t.Fatalf("DISCONNECT kept its reason string: %q", d.Props.ReasonString)
	}
	waitConns(t, n, 0)
	c, _ = mustConnect(t, addr, codec.V5, "s", persistent(1<<20))
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
	for i, topic := range []string{"b/1", "a/1"} {
		pubAcked(t, pub, topic, 1, uint16(i+1), topic)
	}
	if p := c.recvPublish(); string(p.Topic) != "a/1" {
		t.Fatalf("got %q first, want a/1 (b/1 was never subscribed, a/1 never unsubscribed)", p.Topic)
	}
}
