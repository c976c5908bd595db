package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// Helpers shared by the end-to-end tests of wills, shared subscriptions, the offline queue,
// the ACL, malformed input, MQTT 5 features and the mosquitto clients.

// mustConnect connects a raw client (connectRaw) and requires a successful CONNACK.
func mustConnect(t *testing.T, addr string, v codec.Version, clientID string, mutate func(*codec.Connect)) (*client, *codec.Connack) {
	t.Helper()
	c, ack := connectRaw(t, addr, v, clientID, mutate)
	if ack.Code != codec.Success {
		t.Fatalf("connect %q: CONNACK %#x (%v)", clientID, byte(ack.Code), ack.Code)
	}
	return c, ack
}

// closedWith asserts that the broker sends exactly one packet, an MQTT 5 DISCONNECT with
// code, and closes the connection.
func (r *rawConn) closedWith(code codec.ReasonCode) *codec.Disconnect {
	r.t.Helper()
	pkts := r.closed()
	if len(pkts) != 1 || codec.PacketType(pkts[0][0]>>4) != codec.TypeDisconnect {
		r.t.Fatalf("got packets % x before close, want one DISCONNECT %#x", pkts, byte(code))
	}
	var d codec.Disconnect
	if err := d.Decode(pkts[0], codec.V5); err != nil {
		r.t.Fatalf("decoding DISCONNECT % x: %v", pkts[0], err)
	}
	if d.Code != code {
		r.t.Fatalf("DISCONNECT %#x (%v), want %#x (%v)", byte(d.Code), d.Code, byte(code), code)
	}
	return &d
}

// closedSilently asserts that the broker closes the connection without sending anything.
func (r *rawConn) closedSilently() {
	r.t.Helper()
	if pkts := r.closed(); len(pkts) != 0 {
		r.t.Fatalf("got packets % x before close, want none", pkts)
	}
}

// sub5 subscribes a paho v5 client and requires the granted QoS.
func sub5(t *testing.T, c *paho.Client, filter string, qos byte) {
	t.Helper()
	sa, err := c.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %q: reasons %v, want [%d]", filter, sa.Reasons, qos)
	}
}

// pub5 publishes from a paho v5 client and, for QoS 1 and 2, requires a reason code below
// 0x80.
func pub5(t *testing.T, c *paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	resp, err := c.Publish(ctx5(t), &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("publish %q: %v", topic, err)
	}
	if qos > 0 && resp.ReasonCode >= 0x80 {
		t.Fatalf("publish %q: reason %#x", topic, resp.ReasonCode)
	}
}

// expectMsg waits for one message and requires its topic and payload.
func (r *received) expectMsg(t *testing.T, topic, payload string) *paho.Publish {
	t.Helper()
	p := r.next(t)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// fence publishes a marker to topic from the broker itself and waits for r to receive it,
// failing on anything received before it. Every message routed to r's session before the
// fence is queued ahead of the marker, so it proves that none was.
func fence(t *testing.T, n *Node, r *received, topic string) {
	t.Helper()
	marker := fmt.Sprintf("fence-%d", time.Now().UnixNano())
	if _, err := n.Publish(topic, []byte(marker), 1, false, ""); err != nil {
		t.Fatal(err)
	}
	p := r.next(t)
	if p.Topic != topic || string(p.Payload) != marker {
		t.Fatalf("unexpected message before the fence: %q %q", p.Topic, p.Payload)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitConns waits until the node has exactly k connections open.
func waitConns(t *testing.T, n *Node, k int64) {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("%d open connections", k), func() bool { return n.Stats().Connections == k })
}

// roundTrip checks that a well-behaved pair of clients can still publish and receive.
type bystander struct {
	t     *testing.T
	pub   *paho.Client
	r     *received
	topic string
	seq   int
}

func newBystander(t *testing.T, addr, name string) *bystander {
	t.Helper()
	b := &bystander{t: t, r: newReceived(), topic: "bystander/" + name}
	sub, _ := v5(t, addr, &paho.Connect{ClientID: name + "-sub", CleanStart: true}, b.r)
	sub5(t, sub, b.topic, 1)
	b.pub, _ = v5(t, addr, &paho.Connect{ClientID: name + "-pub", CleanStart: true}, nil)
	b.check()
	return b
}

// check publishes one QoS 0 and one QoS 1 message and requires both to arrive in order.
func (b *bystander) check() {
	b.t.Helper()
	for qos := byte(0); qos <= 1; qos++ {
		b.seq++
		payload := fmt.Sprintf("alive %d", b.seq)
		pub5(b.t, b.pub, b.topic, qos, payload)
		p := b.r.next(b.t)
		if p.Topic != b.topic || !bytes.Equal(p.Payload, []byte(payload)) {
			b.t.Fatalf("bystander got %q %q, want %q %q", p.Topic, p.Payload, b.topic, payload)
		}
	}
}

func u32(v uint32) *uint32 { return &v }
