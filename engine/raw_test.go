package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// client is a raw-socket MQTT client built on our codec, for tests that need control over
// every packet (no automatic acks, exact flags and identifiers).
type client struct {
	*rawConn
	v codec.Version
}

// connectRaw connects with version v; mutate adjusts the CONNECT. It returns the CONNACK.
func connectRaw(t *testing.T, addr string, v codec.Version, id string, mutate func(*codec.Connect)) (*client, *codec.Connack) {
	t.Helper()
	c := &client{rawConn: dialRaw(t, addr), v: v}
	c.send(connectPacket(v, id, mutate))
	ack := c.connack()
	return c, ack
}

func (c *client) connack() *codec.Connack {
	c.t.Helper()
	h, pkt := c.packet()
	if h.Type != codec.TypeConnack {
		c.t.Fatalf("got %v, want CONNACK", h.Type)
	}
	var ack codec.Connack
	if err := ack.Decode(pkt, c.v); err != nil {
		c.t.Fatalf("bad CONNACK % x: %v", pkt, err)
	}
	return &ack
}

// expect reads the next packet and fails unless it has type want.
func (c *client) expect(want codec.PacketType) []byte {
	c.t.Helper()
	h, pkt := c.packet()
	if h.Type != want {
		c.t.Fatalf("got %v % x, want %v", h.Type, pkt, want)
	}
	return pkt
}

func (c *client) publish(p *codec.Publish) { c.send(codec.AppendPublish(nil, p, c.v)) }

// recvPublish reads the next packet, which must be a PUBLISH.
func (c *client) recvPublish() *codec.Publish {
	c.t.Helper()
	pkt := c.expect(codec.TypePublish)
	p := &codec.Publish{}
	if err := p.Decode(pkt, c.v); err != nil {
		c.t.Fatalf("bad PUBLISH: %v", err)
	}
	return p
}

func (c *client) ack(t codec.PacketType, id uint16) {
	c.send(codec.AppendAck(nil, &codec.Ack{Type: t, PacketID: id}, c.v))
}

// recvAck reads the next packet, which must be an acknowledgement of type t.
func (c *client) recvAck(t codec.PacketType) *codec.Ack {
	c.t.Helper()
	pkt := c.expect(t)
	a := &codec.Ack{}
	if err := a.Decode(pkt, c.v); err != nil {
		c.t.Fatalf("bad %v: %v", t, err)
	}
	return a
}

// subscribe sends SUBSCRIBE and returns the SUBACK codes.
func (c *client) subscribe(id uint16, subID uint32, subs ...codec.Subscription) []codec.ReasonCode {
	c.t.Helper()
	s := &codec.Subscribe{PacketID: id, Subs: subs}
	if subID != 0 {
		s.Props.AddSubscriptionID(subID)
	}
	c.send(codec.AppendSubscribe(nil, s, c.v))
	pkt := c.expect(codec.TypeSuback)
	var ack codec.Suback
	if err := ack.Decode(pkt, c.v); err != nil {
		c.t.Fatalf("bad SUBACK: %v", err)
	}
	if ack.PacketID != id {
		c.t.Fatalf("SUBACK for %d, want %d", ack.PacketID, id)
	}
	return ack.Codes
}

// silent asserts nothing arrives within d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("unexpected data from broker: %#x...", b)
	}
}

// disconnect sends DISCONNECT (code and session expiry for v5) and closes the socket.
func (c *client) disconnect(code codec.ReasonCode, mutate func(*codec.Disconnect)) {
	d := &codec.Disconnect{Code: code}
	if mutate != nil {
		mutate(d)
	}
	c.send(codec.AppendDisconnect(nil, d, c.v))
	c.c.Close()
}

// disconnectPacket waits for a DISCONNECT from the broker and returns its reason code.
func (c *client) disconnectPacket() codec.ReasonCode {
	c.t.Helper()
	pkt := c.expect(codec.TypeDisconnect)
	var d codec.Disconnect
	if err := d.Decode(pkt, c.v); err != nil {
		c.t.Fatalf("bad DISCONNECT: %v", err)
	}
	return d.Code
}

func sub(filter string, qos byte) codec.Subscription {
	return codec.Subscription{Filter: []byte(filter), QoS: qos}
}
