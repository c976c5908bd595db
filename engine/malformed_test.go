package engine

import (
	"bufio"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// publishBytes encodes a PUBLISH for v without validating it.
func publishBytes(v codec.Version, qos byte, id uint16, topic []byte) []byte {
	return codec.AppendPublish(nil, &codec.Publish{QoS: qos, PacketID: id, Topic: topic, Payload: []byte("p")}, v)
}

func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxPacketSize = 1024 })
	b := newBystander(t, addr, "by")
	cases := []struct {
		name  string
		build func(v codec.Version) []byte
		code  codec.ReasonCode // MQTT 5 DISCONNECT reason
	}{
		{"reserved flags on SUBSCRIBE", func(v codec.Version) []byte {
			p := codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("a", 0)}}, v)
			p[0] = byte(codec.TypeSubscribe) << 4 // flags must be 0010
			return p
		}, codec.MalformedPacket},
		{"reserved flags on PUBREL", func(codec.Version) []byte {
			return []byte{byte(codec.TypePubrel) << 4, 2, 0, 1} // flags must be 0010
		}, codec.MalformedPacket},
		{"reserved flags on PINGREQ", func(codec.Version) []byte { return []byte{0xC1, 0} }, codec.MalformedPacket},
		{"PUBLISH QoS 3", func(v codec.Version) []byte {
			p := publishBytes(v, 1, 1, []byte("a/b"))
			p[0] |= 0x06
			return p
		}, codec.MalformedPacket},
		{"PUBLISH packet id 0", func(v codec.Version) []byte { return publishBytes(v, 1, 0, []byte("a/b")) }, codec.ProtocolError},
		{"SUBSCRIBE packet id 0", func(v codec.Version) []byte {
			return codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 0, Subs: []codec.Subscription{sub("a", 0)}}, v)
		}, codec.ProtocolError},
		{"remaining length over 4 bytes", func(codec.Version) []byte {
			return []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}
		}, codec.MalformedPacket},
		{"packet over max_packet_size", func(codec.Version) []byte {
			// The fixed header announces 2000 bytes; the broker refuses before the body.
			return append(codec.AppendFixedHeader(nil, codec.TypePublish, 0, 2000), 0, 3, 'a', '/', 'b')
		}, codec.PacketTooLarge},
		{"invalid UTF-8 topic", func(v codec.Version) []byte { return publishBytes(v, 0, 0, []byte{'a', '/', 0xC3, 0x28}) }, codec.MalformedPacket},
		{"topic with U+0000", func(v codec.Version) []byte { return publishBytes(v, 0, 0, []byte{'a', 0, 'b'}) }, codec.MalformedPacket},
		{"wildcard in topic name", func(v codec.Version) []byte { return publishBytes(v, 1, 1, []byte("a/+")) }, codec.TopicNameInvalid},
		{"second CONNECT", func(v codec.Version) []byte { return connectPacket(v, "again", nil) }, codec.ProtocolError},
		{"CONNACK from a client", func(v codec.Version) []byte {
			return codec.AppendConnack(nil, &codec.Connack{}, v)
		}, codec.ProtocolError},
		{"SUBACK from a client", func(v codec.Version) []byte {
			return codec.AppendSuback(nil, &codec.Suback{PacketID: 1, Codes: []codec.ReasonCode{0}}, v)
		}, codec.ProtocolError},
		{"PINGRESP from a client", func(codec.Version) []byte { return codec.AppendPingresp(nil) }, codec.ProtocolError},
	}
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		for i, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", v, tc.name), func(t *testing.T) {
				c, _ := mustConnect(t, addr, v, fmt.Sprintf("bad-%d-%d", v, i), nil)
				c.send(tc.build(v))
				if v == codec.V5 {
					c.closedWith(tc.code)
				} else {
					c.closedSilently()
				}
				b.check()
			})
		}
	}
}

func TestClientSubscriptionIdentifierIsProtocolError(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	sub5(t, s, "sid/#", 1)
	c, _ := mustConnect(t, addr, codec.V5, "sid", nil)
	p := &codec.Publish{Topic: []byte("sid/x"), QoS: 1, PacketID: 1, Payload: []byte("x")}
	p.Props.AddSubscriptionID(7) // only a server may send it [MQTT-3.3.4-6]
	c.publish(p)
	c.closedWith(codec.ProtocolError)
	fence(t, n, r, "sid/fence")
}

func TestMalformedConnect(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, nil)
	b := newBystander(t, addr, "by")
	willQoS3 := func(c *codec.Connect) {
		c.WillFlag, c.WillQoS, c.WillTopic, c.WillPayload = true, 3, []byte("w"), []byte("x")
	}
	t.Run("will QoS 3 v5", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send(connectPacket(codec.V5, "w5", willQoS3))
		pkts := r.closed()
		var ack codec.Connack
		if len(pkts) != 1 || ack.Decode(pkts[0], codec.V5) != nil || ack.Code != codec.MalformedPacket {
			t.Fatalf("got % x, want one CONNACK 0x81", pkts)
		}
		b.check()
	})
	t.Run("will QoS 3 v311", func(t *testing.T) {
		r := dialRaw(t, addr)
		r.send(connectPacket(codec.V311, "w3", willQoS3))
		r.closedSilently() // [MQTT-3.1.4-1]: no CONNACK for a malformed CONNECT
		b.check()
	})
	t.Run("reserved connect flag", func(t *testing.T) {
		r := dialRaw(t, addr)
		p := connectPacket(codec.V311, "rf", nil)
		p[9] |= 1 // connect flags: reserved bit
		r.send(p)
		r.closedSilently()
		b.check()
	})
	t.Run("will retain without will v5", func(t *testing.T) {
		r := dialRaw(t, addr)
		p := connectPacket(codec.V5, "wr", nil)
		p[9] |= 0x20
		r.send(p)
		pkts := r.closed()
		var ack codec.Connack
		if len(pkts) != 1 || ack.Decode(pkts[0], codec.V5) != nil || ack.Code != codec.MalformedPacket {
			t.Fatalf("got % x, want one CONNACK 0x81", pkts)
		}
		b.check()
	})
}

// stalledSubscriber subscribes over a raw socket with a tiny receive buffer and then never
// reads again.
func stalledSubscriber(t *testing.T, addr, filter string, qos byte) *client {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{rawConn: &rawConn{t: t, c: nc}, v: codec.V5}
	c.r = newBufReader(nc)
	c.send(connectPacket(codec.V5, "stalled", nil))
	if ack := c.connack(); ack.Code != 0 {
		t.Fatalf("CONNACK %v", ack.Code)
	}
	if codes := c.subscribe(1, 0, sub(filter, qos)); codes[0] != codec.ReasonCode(qos) {
		t.Fatalf("SUBACK %v", codes)
	}
	return c
}

func TestSlowConsumerDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.HighWater = 64 << 10
		c.Listeners[0].Zone.CloseWater = 4 << 20
	})
	stalledSubscriber(t, addr, "flood/#", 0)

	// A healthy subscriber counts what it gets and reports the end marker.
	var count atomic.Int64
	done := make(chan struct{})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	good := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			if pr.Packet.Topic == "flood/end" {
				close(done)
			} else {
				count.Add(1)
			}
			return true, nil
		}}})
	if _, err := good.Connect(ctx5(t), &paho.Connect{ClientID: "good", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = good.Disconnect(&paho.Disconnect{}) })
	sub5(t, good, "flood/#", 1) // QoS 0 flood stays QoS 0; the QoS 1 end marker is never dropped

	pub, _ := v5(t, addr, &paho.Connect{ClientID: "flooder", CleanStart: true}, nil)
	before := n.Stats().MessagesDropped
	payload := make([]byte, 2048)
	const total = 4000 // 8 MB, far more than the stalled socket's buffers hold
	start := time.Now()
	for i := 0; i < total; i++ {
		if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "flood/data", QoS: 0, Payload: payload}); err != nil {
			t.Fatalf("publish %d after %v: %v", i, time.Since(start), err)
		}
	}
	// The publisher is still served: a QoS 1 publish is acknowledged.
	pub5(t, pub, "flood/end", 1, "end")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("healthy subscriber did not get the end marker (got %d of %d)", count.Load(), total)
	}
	if count.Load() == 0 {
		t.Fatal("healthy subscriber got none of the flood")
	}
	// The stalled subscriber's QoS 0 backlog was dropped and counted, not buffered without end.
	waitFor(t, 5*time.Second, "slow-consumer drops counted", func() bool { return n.Stats().MessagesDropped > before })
	t.Logf("healthy subscriber got %d of %d; %d dropped", count.Load(), total, n.Stats().MessagesDropped-before)
	// A bystander still round-trips.
	newBystander(t, addr, "after")
}

func newBufReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
