package engine

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

const testACL = `
%% Admins may do anything.
{allow, {user, "admin"}, pubsub, ["#"]}.
{deny, all, subscribe, ["secret/#"]}.
{allow, all, pubsub, ["users/%u/#", "clients/%c/#"]}.
{deny, all, publish, ["ro/#"]}.
{allow, all, subscribe, ["ro/#"]}.
{allow, all, pubsub, ["open/#"]}.
`

// aclNode starts a node with testACL and acl_nomatch = deny.
func aclNode(t *testing.T) (*Node, string) {
	t.Helper()
	rules, err := acl.Parse("acl.conf", []byte(testACL))
	if err != nil {
		t.Fatal(err)
	}
	return testNode(t, func(c *Config) {
		c.ACL = rules
		c.ACLNoMatch = acl.Deny
	})
}

func TestACLSubscribeDenied(t *testing.T) {
	t.Parallel()
	_, addr := aclNode(t)
	subs := []codec.Subscription{sub("secret/x", 1), sub("open/x", 1), sub("nomatch/x", 0), sub("ro/#", 2),
		sub("$share/g/secret/x", 1), sub("$queue/secret/x", 1), sub("$share/g/open/x", 1)}
	t.Run("v5", func(t *testing.T) {
		c, _ := mustConnect(t, addr, codec.V5, "s5", nil)
		codes := c.subscribe(1, 0, subs...)
		want := []codec.ReasonCode{codec.NotAuthorized, 1, codec.NotAuthorized, 2, codec.NotAuthorized, codec.NotAuthorized, 1}
		if !equalCodes(codes, want) {
			t.Fatalf("SUBACK %v, want %v", codes, want)
		}
	})
	t.Run("v311", func(t *testing.T) {
		c, _ := mustConnect(t, addr, codec.V311, "s3", nil)
		codes := c.subscribe(1, 0, subs...)
		want := []codec.ReasonCode{0x80, 1, 0x80, 2, 0x80, 0x80, 1}
		if !equalCodes(codes, want) {
			t.Fatalf("SUBACK %v, want %v", codes, want)
		}
	})
	t.Run("admin", func(t *testing.T) {
		c, _ := mustConnect(t, addr, codec.V5, "adm", func(p *codec.Connect) { p.UsernameFlag, p.Username = true, []byte("admin") })
		if codes := c.subscribe(1, 0, sub("secret/x", 1)); !equalCodes(codes, []codec.ReasonCode{1}) {
			t.Fatalf("admin SUBACK %v", codes)
		}
	})
}

func equalCodes(a, b []codec.ReasonCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestACLPublishDenied(t *testing.T) {
	t.Parallel()
	n, addr := aclNode(t)
	r := newReceived()
	watcher, _ := v5(t, addr, &paho.Connect{ClientID: "watch", CleanStart: true}, r)
	sub5(t, watcher, "ro/#", 2)

	c, _ := mustConnect(t, addr, codec.V5, "p5", nil)
	c.publish(&codec.Publish{Topic: []byte("ro/1"), QoS: 1, PacketID: 1, Payload: []byte("x")})
	if a := c.recvAck(codec.TypePuback); a.PacketID != 1 || a.Code != codec.NotAuthorized {
		t.Fatalf("QoS 1: PUBACK %d %v, want 1 0x87", a.PacketID, a.Code)
	}
	c.publish(&codec.Publish{Topic: []byte("ro/2"), QoS: 2, PacketID: 2, Payload: []byte("x")})
	if a := c.recvAck(codec.TypePubrec); a.PacketID != 2 || a.Code != codec.NotAuthorized {
		t.Fatalf("QoS 2: PUBREC %d %v, want 2 0x87", a.PacketID, a.Code)
	}
	// The refused QoS 2 flow is over: the same packet id starts a new message.
	c.publish(&codec.Publish{Topic: []byte("open/2"), QoS: 2, PacketID: 2, Payload: []byte("x")})
	if a := c.recvAck(codec.TypePubrec); a.PacketID != 2 || a.Code >= 0x80 {
		t.Fatalf("QoS 2 after a refusal: PUBREC %d %v", a.PacketID, a.Code)
	}
	c.send(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePubrel, PacketID: 2}, codec.V5))
	c.recvAck(codec.TypePubcomp)
	c.publish(&codec.Publish{Topic: []byte("ro/0"), QoS: 0, Payload: []byte("x")})
	c.silent(200 * time.Millisecond) // QoS 0: silently dropped, connection open
	// 3.1.1: dropped; the acknowledgement carries no code.
	c3, _ := mustConnect(t, addr, codec.V311, "p3", nil)
	c3.publish(&codec.Publish{Topic: []byte("ro/3"), QoS: 1, PacketID: 7, Payload: []byte("x")})
	if a := c3.recvAck(codec.TypePuback); a.PacketID != 7 {
		t.Fatalf("3.1.1 PUBACK for %d", a.PacketID)
	}
	c3.publish(&codec.Publish{Topic: []byte("ro/3"), QoS: 0, Payload: []byte("x")})
	c3.silent(100 * time.Millisecond)
	// Nothing reached the subscriber, and both connections still work.
	fence(t, n, r, "ro/fence")
	c.publish(&codec.Publish{Topic: []byte("open/1"), QoS: 1, PacketID: 3, Payload: []byte("x")})
	if a := c.recvAck(codec.TypePuback); a.Code >= 0x80 {
		t.Fatalf("allowed publish refused: %v", a.Code)
	}
	c3.publish(&codec.Publish{Topic: []byte("open/1"), QoS: 1, PacketID: 8, Payload: []byte("x")})
	c3.recvAck(codec.TypePuback)
}

func TestACLPlaceholders(t *testing.T) {
	t.Parallel()
	n, addr := aclNode(t)
	r := newReceived()
	admin, _ := v5(t, addr, &paho.Connect{ClientID: "adm", CleanStart: true, UsernameFlag: true, Username: "admin"}, r)
	sub5(t, admin, "#", 1)

	alice, _ := mustConnect(t, addr, codec.V5, "c1", func(p *codec.Connect) { p.UsernameFlag, p.Username = true, []byte("alice") })
	codes := alice.subscribe(1, 0, sub("users/alice/#", 1), sub("users/bob/#", 1), sub("clients/c1/in", 1), sub("clients/c2/in", 1))
	want := []codec.ReasonCode{1, codec.NotAuthorized, 1, codec.NotAuthorized}
	if !equalCodes(codes, want) {
		t.Fatalf("SUBACK %v, want %v", codes, want)
	}
	for i, tc := range []struct {
		topic string
		code  codec.ReasonCode
	}{
		{"users/alice/x", 0},
		{"users/bob/x", codec.NotAuthorized},
		{"clients/c1/x", 0},
		{"clients/c2/x", codec.NotAuthorized},
	} {
		id := uint16(10 + i)
		alice.publish(&codec.Publish{Topic: []byte(tc.topic), QoS: 1, PacketID: id, Payload: []byte(tc.topic)})
		// alice's own subscriptions do not match these topics except users/alice/x and
		// clients/c1/x, which it receives back.
		for {
			h, pkt := alice.packet()
			if h.Type == codec.TypePublish {
				continue
			}
			var a codec.Ack
			if err := a.Decode(pkt, codec.V5); err != nil || h.Type != codec.TypePuback || a.PacketID != id {
				t.Fatalf("%s: got %v % x", tc.topic, h.Type, pkt)
			}
			if a.Code != tc.code {
				t.Fatalf("%s: PUBACK %v, want %v", tc.topic, a.Code, tc.code)
			}
			break
		}
		if tc.code == 0 {
			r.expectMsg(t, tc.topic, tc.topic)
		}
	}
	fence(t, n, r, "fence") // the denied ones never arrived
	// A client without a username never matches %u.
	anon, _ := mustConnect(t, addr, codec.V5, "anon", nil)
	if codes := anon.subscribe(1, 0, sub("users//x", 0), sub("users/+/x", 0)); !equalCodes(codes, []codec.ReasonCode{codec.NotAuthorized, codec.NotAuthorized}) {
		t.Fatalf("anonymous SUBACK %v", codes)
	}
}

func TestACLAllowAnonymousFalse(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) { c.AllowAnonymous = false })
	// MQTT 5 with paho.golang: CONNACK 0x87.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ca, err := c.Connect(ctx5(t), &paho.Connect{ClientID: "anon5", CleanStart: true, KeepAlive: 30})
	if err == nil {
		t.Fatal("anonymous v5 client accepted")
	}
	if ca == nil || ca.ReasonCode != byte(codec.NotAuthorized) {
		t.Fatalf("v5 CONNACK %+v (%v), want 0x87", ca, err)
	}
	// MQTT 3.1.1 on the wire: return code 5, then the connection closes.
	raw := dialRaw(t, addr)
	raw.send(connectPacket(codec.V311, "anon3", nil))
	if pkts := raw.closed(); len(pkts) != 1 || !bytes.Equal(pkts[0], []byte{0x20, 2, 0, 5}) {
		t.Fatalf("3.1.1: got % x, want CONNACK return code 5", pkts)
	}
	// MQTT 3.1.1 with paho.mqtt.golang.
	mc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("anon3p").
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false))
	tok := mc.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("paho.mqtt.golang connect did not finish")
	}
	if !errors.Is(tok.Error(), packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("paho.mqtt.golang: %v, want %v", tok.Error(), packets.ErrorRefusedNotAuthorised)
	}
}

func TestACLAppliesToWill(t *testing.T) {
	t.Parallel()
	n, addr := aclNode(t)
	r := newReceived()
	admin, _ := v5(t, addr, &paho.Connect{ClientID: "adm", CleanStart: true, UsernameFlag: true, Username: "admin"}, r)
	sub5(t, admin, "#", 1)
	// A will on a topic the client may not publish to is not published.
	denied, _ := mustConnect(t, addr, codec.V5, "w1", withWill("ro/will", "sneaky", 1, true, nil))
	denied.c.Close()
	// A will on an allowed topic is.
	allowed, _ := mustConnect(t, addr, codec.V5, "w2", withWill("open/will", "fine", 1, false, nil))
	allowed.c.Close()
	r.expectMsg(t, "open/will", "fine")
	waitConns(t, n, 1)
	fence(t, n, r, "fence")
	if n.Stats().Retained != 0 {
		t.Fatal("a denied retained will was stored")
	}
}
