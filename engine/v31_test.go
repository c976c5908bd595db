package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// MQTT 3.1 (protocol level 3): the CONNACK's first byte is reserved and stays 0 even when a
// session is resumed, and PUBREL, SUBSCRIBE and UNSUBSCRIBE resent with DUP set are legal.
func TestMQTT31Edges(t *testing.T) {
	_, addr := testNode(t, nil)
	persistent := func(c *codec.Connect) { c.CleanStart = false }
	first, _ := connectRaw(t, addr, codec.V31, "old-client", persistent)
	first.disconnect(0, nil)

	c := &client{rawConn: dialRaw(t, addr), v: codec.V31}
	c.send(connectPacket(codec.V31, "old-client", persistent))
	h, pkt := c.packet()
	if h.Type != codec.TypeConnack || pkt[2] != 0 || pkt[3] != 0 {
		t.Fatalf("3.1 CONNACK for a resumed session % x, want 20 02 00 00", pkt)
	}

	sub := codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 5, Subs: []codec.Subscription{sub("a/#", 2)}}, codec.V31)
	sub[0] |= 0x08 // DUP: a resend
	c.send(sub)
	c.expect(codec.TypeSuback)

	c.publish(&codec.Publish{QoS: 2, PacketID: 6, Topic: []byte("a/b"), Payload: []byte("x")})
	// Its own subscription delivers the message (QoS 2, before or after the PUBREC).
	got := map[codec.PacketType]int{}
	for range 2 {
		h, _ := c.packet()
		got[h.Type]++
	}
	if got[codec.TypePubrec] != 1 || got[codec.TypePublish] != 1 {
		t.Fatalf("got %v, want a PUBREC and the PUBLISH", got)
	}
	c.send([]byte{0x6A, 2, 0, 6}) // PUBREL with DUP
	if a := c.recvAck(codec.TypePubcomp); a.PacketID != 6 {
		t.Fatalf("PUBCOMP %d", a.PacketID)
	}

	unsub := codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 7, Filters: [][]byte{[]byte("a/#")}}, codec.V31)
	unsub[0] |= 0x08
	c.send(unsub)
	c.expect(codec.TypeUnsuback)
	c.silent(50 * time.Millisecond) // still connected, nothing else sent

	// The same DUP flags are a malformed packet in 3.1.1 [MQTT-2.2.2-2].
	c4, _ := connectRaw(t, addr, codec.V311, "new-client", nil)
	c4.send([]byte{0x6A, 2, 0, 6})
	c4.closedSilently()
}

// An MQTT 5 property not valid for its packet type is a Malformed Packet: DISCONNECT 0x81
// (MQTT 5.0 section 2.2.2.2), also when its value is cut short.
func TestInvalidPropertyIsMalformed(t *testing.T) {
	_, addr := testNode(t, nil)
	for _, pkt := range [][]byte{
		{0x30, 0x0A, 0, 1, 't', 5, 0x1F, 0, 2, 'h', 'i', 'x'}, // Reason String in PUBLISH
		{0x30, 6, 0, 1, 't', 2, 0x1F, 0},                      // the same, value cut short
	} {
		c, _ := connectRaw(t, addr, codec.V5, "props", nil)
		c.send(pkt)
		c.closedWith(codec.MalformedPacket)
	}
}
