package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/codec"
)

func TestPubSubV5AllQoS(t *testing.T) {
	_, addr := testNode(t, nil)
	r := newReceived()
	sub, _ := v5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	sa, err := sub.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/+/c", QoS: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != 2 {
		t.Fatalf("suback reasons %v, want [2]", sa.Reasons)
	}
	for qos := byte(0); qos <= 2; qos++ {
		payload := []byte(fmt.Sprintf("hello qos %d", qos))
		resp, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "a/b/c", QoS: qos, Payload: payload,
			Properties: &paho.PublishProperties{ContentType: "text/plain", User: paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}}}})
		if err != nil {
			t.Fatalf("publish qos %d: %v", qos, err)
		}
		if qos > 0 && resp.ReasonCode != 0 {
			t.Fatalf("publish qos %d: reason %#x", qos, resp.ReasonCode)
		}
		got := r.next(t)
		if got.Topic != "a/b/c" || !bytes.Equal(got.Payload, payload) || got.QoS != qos {
			t.Fatalf("got %q %q qos %d, want a/b/c %q qos %d", got.Topic, got.Payload, got.QoS, payload, qos)
		}
		if got.Properties == nil || got.Properties.ContentType != "text/plain" || len(got.Properties.User) != 2 ||
			got.Properties.User[0].Value != "v1" || got.Properties.User[1].Value != "v2" {
			t.Fatalf("properties not passed through: %+v", got.Properties)
		}
	}
	// No subscriber: MQTT 5 QoS 1 gets 0x10.
	resp, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "nobody/home", QoS: 1, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ReasonCode != byte(codec.NoMatchingSubscribers) {
		t.Fatalf("reason %#x, want 0x10", resp.ReasonCode)
	}
}

func TestPubSubV311AndRetained(t *testing.T) {
	_, addr := testNode(t, nil)
	opts := func(id string) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).SetAutoReconnect(false)
	}
	pub := mqtt.NewClient(opts("pub311"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	// Retained message first, then a subscriber receives it with the retain flag.
	if tok := pub.Publish("r/1", 1, true, "kept"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	got := make(chan mqtt.Message, 10)
	sub := mqtt.NewClient(opts("sub311"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("r/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	wait := func() mqtt.Message {
		t.Helper()
		select {
		case m := <-got:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
			return nil
		}
	}
	m := wait()
	if m.Topic() != "r/1" || string(m.Payload()) != "kept" || !m.Retained() || m.Qos() != 1 {
		t.Fatalf("retained delivery: %s %q retained=%v qos=%d", m.Topic(), m.Payload(), m.Retained(), m.Qos())
	}
	// A live publish is delivered without the retain flag.
	pub.Publish("r/2", 0, true, "live").WaitTimeout(5 * time.Second)
	m = wait()
	if m.Topic() != "r/2" || m.Retained() {
		t.Fatalf("live delivery: %s retained=%v", m.Topic(), m.Retained())
	}
	// An empty retained payload deletes the retained message.
	pub.Publish("r/1", 1, true, "").WaitTimeout(5 * time.Second)
	wait() // the empty message itself is delivered to the live subscriber
	sub2 := mqtt.NewClient(opts("sub311b"))
	sub2.Connect().WaitTimeout(5 * time.Second)
	defer sub2.Disconnect(100)
	got2 := make(chan mqtt.Message, 10)
	sub2.Subscribe("r/#", 1, func(_ mqtt.Client, m mqtt.Message) { got2 <- m }).WaitTimeout(5 * time.Second)
	select {
	case m := <-got2:
		if m.Topic() == "r/1" {
			t.Fatalf("deleted retained message delivered: %q", m.Payload())
		}
		if m.Topic() != "r/2" {
			t.Fatalf("unexpected %s", m.Topic())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("retained r/2 not delivered to the second subscriber")
	}
}

func TestFirstPacketMustBeConnect(t *testing.T) {
	_, addr := testNode(t, nil)
	r := dialRaw(t, addr)
	r.send(codec.AppendPingreq(nil))
	if pkts := r.closed(); len(pkts) != 0 {
		t.Fatalf("broker answered a packet before CONNECT: % x", pkts)
	}
}

func TestUnsupportedProtocolLevel(t *testing.T) {
	_, addr := testNode(t, nil)
	r := dialRaw(t, addr)
	// CONNECT with protocol name MQTT and level 6.
	pkt := connectPacket(codec.V311, "x", nil)
	pkt[8] = 6
	r.send(pkt)
	pkts := r.closed()
	if len(pkts) != 1 || !bytes.Equal(pkts[0], []byte{0x20, 2, 0, 1}) {
		t.Fatalf("got % x, want CONNACK return code 1", pkts)
	}
}

func TestLargePayloadInPieces(t *testing.T) {
	_, addr := testNode(t, nil)
	s, _ := connectRaw(t, addr, codec.V311, "s", nil)
	s.subscribe(1, 0, sub("big", 1))
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 60000) // 960 KB, under the 1 MB limit
	pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("big"), QoS: 1, PacketID: 9, Payload: payload}, codec.V311)
	for len(pkt) > 0 { // dribble it in 7 kB writes
		n := min(7000, len(pkt))
		p.send(pkt[:n])
		pkt = pkt[n:]
		time.Sleep(time.Millisecond)
	}
	p.recvAck(codec.TypePuback)
	if m := s.recvPublish(); !bytes.Equal(m.Payload, payload) {
		t.Fatalf("payload of %d bytes differs", len(m.Payload))
	}
}

func TestMetricsCountTraffic(t *testing.T) {
	n, addr := testNode(t, nil)
	s, _ := connectRaw(t, addr, codec.V311, "s", nil)
	s.subscribe(1, 0, sub("m", 1))
	p, _ := connectRaw(t, addr, codec.V311, "p", nil)
	for i := range 3 {
		p.publish(&codec.Publish{Topic: []byte("m"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte("x")})
		p.recvAck(codec.TypePuback)
		s.ack(codec.TypePuback, s.recvPublish().PacketID)
	}
	want := map[string]uint64{"packets.connect": 2, "packets.connack": 2, "packets.subscribe": 1, "messages.received": 3,
		"messages.sent": 3, "messages.qos1.received": 3, "packets.puback.sent": 3}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[string]uint64{}
		for _, m := range n.Metrics() {
			got[m.Name] = m.Value
		}
		ok := got["packets.puback.received"] == 3
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics %v, want %v and puback.received 3", got, want)
		}
		time.Sleep(50 * time.Millisecond) // loop counters are copied at each sweep
	}
}

// Large payloads are sent by reference (writev) between small packets: contents, properties
// and order must be exactly as with copied ones.
func TestLargeAndSmallPayloadsInterleaved(t *testing.T) {
	_, addr := testNode(t, nil)
	s, _ := connectRaw(t, addr, codec.V5, "s", nil)
	s.subscribe(1, 42, sub("mix/#", 1))
	p, _ := connectRaw(t, addr, codec.V5, "p", nil)
	var batch []byte
	var want [][]byte
	for i := range 40 {
		size := 10
		if i%3 == 1 {
			size = 3000 + i*100
		}
		payload := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		want = append(want, payload)
		pub := &codec.Publish{Topic: []byte(fmt.Sprintf("mix/%d", i)), QoS: byte(i % 2), Payload: payload}
		if pub.QoS > 0 {
			pub.PacketID = uint16(i + 1)
		}
		pub.Props.AddUser([]byte("n"), []byte(fmt.Sprint(i)))
		batch = codec.AppendPublish(batch, pub, codec.V5)
	}
	p.send(batch) // one write: the broker handles them in one round
	for i := range 40 {
		m := s.recvPublish()
		if string(m.Topic) != fmt.Sprintf("mix/%d", i) || !bytes.Equal(m.Payload, want[i]) {
			t.Fatalf("message %d: topic %q, %d bytes, want mix/%d with %d bytes", i, m.Topic, len(m.Payload), i, len(want[i]))
		}
		if len(m.Props.User) != 1 || string(m.Props.User[0].Value) != fmt.Sprint(i) || len(m.Props.SubscriptionIDs) != 1 || m.Props.SubscriptionIDs[0] != 42 {
			t.Fatalf("message %d: properties %+v", i, m.Props)
		}
		if m.QoS > 0 {
			s.ack(codec.TypePuback, m.PacketID)
		}
	}
}
