package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Strings a client SHOULD NOT send (MQTT 3.1.1 section 1.5.3, MQTT 5.0 section 1.5.4), each
// well-formed UTF-8 without U+0000, so that the codec itself accepts them: strict_mode alone
// decides.
const (
	strictClientID = "dev\x01ice"     // C0 control
	strictUsername = "user\uffff"     // non-character
	strictWill     = "will/\x7f"      // DEL
	strictTopic    = "t/\u0085"       // C1 control (NEL)
	strictFilter   = "t/\ufdd0/#"     // non-character
	strictUnsub    = "a\x1fb"         // C0 control
	strictPlane    = "x/\U0010FFFF/y" // non-character of plane 16
)

var strictVersions = []codec.Version{codec.V5, codec.V311}

// strictNode starts a node whose zone has strict_mode on or off.
func strictNode(t *testing.T, on bool) string {
	t.Helper()
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.StrictMode = on })
	return addr
}

func TestStrictClientID(t *testing.T) {
	for _, v := range strictVersions {
		t.Run(v.String(), func(t *testing.T) {
			c, ack := connectRaw(t, strictNode(t, true), v, strictClientID, nil)
			// MQTT 5: 0x85; MQTT 3.1.1: return code 2, read back as the same reason code.
			if ack.Code != codec.ClientIdentifierNotValid {
				t.Fatalf("CONNACK %#x (%v), want client identifier not valid", byte(ack.Code), ack.Code)
			}
			c.closedSilently()

			c, _ = mustConnect(t, strictNode(t, false), v, strictClientID, nil)
			c.send(codec.AppendPingreq(nil))
			c.expect(codec.TypePingresp)
		})
	}
}

func TestStrictUsername(t *testing.T) {
	withUser := func(p *codec.Connect) { p.UsernameFlag, p.Username = true, []byte(strictUsername) }
	for _, v := range strictVersions {
		t.Run(v.String(), func(t *testing.T) {
			c, ack := connectRaw(t, strictNode(t, true), v, "u1", withUser)
			// MQTT 5: 0x86; MQTT 3.1.1: return code 4.
			if ack.Code != codec.BadUserNameOrPassword {
				t.Fatalf("CONNACK %#x (%v), want bad user name or password", byte(ack.Code), ack.Code)
			}
			c.closedSilently()

			mustConnect(t, strictNode(t, false), v, "u1", withUser)
		})
	}
}

func TestStrictWillTopic(t *testing.T) {
	withWill := func(p *codec.Connect) {
		p.WillFlag, p.WillQoS, p.WillTopic, p.WillPayload = true, 0, []byte(strictWill), []byte("gone")
	}
	t.Run("5.0", func(t *testing.T) {
		c, ack := connectRaw(t, strictNode(t, true), codec.V5, "w1", withWill)
		if ack.Code != codec.TopicNameInvalid {
			t.Fatalf("CONNACK %#x (%v), want topic name invalid", byte(ack.Code), ack.Code)
		}
		c.closedSilently()
	})
	t.Run("3.1.1", func(t *testing.T) {
		// No MQTT 3.x CONNACK return code fits: the connection is closed without one.
		c := &client{rawConn: dialRaw(t, strictNode(t, true)), v: codec.V311}
		c.send(connectPacket(codec.V311, "w1", withWill))
		c.closedSilently()
	})
	for _, v := range strictVersions {
		t.Run(v.String()+"/off", func(t *testing.T) {
			addr := strictNode(t, false)
			watcher, _ := mustConnect(t, addr, v, "watcher", nil)
			if codes := watcher.subscribe(1, 0, sub("will/#", 0)); codes[0] != 0 {
				t.Fatalf("SUBACK %v", codes)
			}
			c, _ := mustConnect(t, addr, v, "w1", withWill)
			c.c.Close() // without DISCONNECT: the will goes out
			if m := watcher.recvPublish(); string(m.Topic) != strictWill || string(m.Payload) != "gone" {
				t.Fatalf("will %q %q", m.Topic, m.Payload)
			}
		})
	}
}

func TestStrictPublishTopic(t *testing.T) {
	for _, v := range strictVersions {
		t.Run(v.String(), func(t *testing.T) {
			addr := strictNode(t, true)
			watcher, _ := mustConnect(t, addr, v, "watcher", nil)
			if codes := watcher.subscribe(1, 0, sub("#", 1)); codes[0] != 1 {
				t.Fatalf("SUBACK %v", codes)
			}
			c, _ := mustConnect(t, addr, v, "p1", nil)
			// A good topic first: the connection works and the watcher is in place.
			c.publish(&codec.Publish{QoS: 1, PacketID: 1, Topic: []byte("t/ok"), Payload: []byte("a")})
			c.recvAck(codec.TypePuback)
			if m := watcher.recvPublish(); string(m.Topic) != "t/ok" {
				t.Fatalf("got %q", m.Topic)
			}
			watcher.ack(codec.TypePuback, 1)

			c.publish(&codec.Publish{QoS: 1, PacketID: 2, Topic: []byte(strictTopic), Payload: []byte("b")})
			if v == codec.V5 {
				d := c.closedWith(codec.TopicNameInvalid)
				if !d.Props.Has(codec.PropReasonString) {
					t.Fatal("DISCONNECT without a reason string")
				}
			} else {
				c.closedSilently()
			}
			watcher.silent(200 * time.Millisecond) // refused before routing
		})
		t.Run(v.String()+"/off", func(t *testing.T) {
			addr := strictNode(t, false)
			watcher, _ := mustConnect(t, addr, v, "watcher", nil)
			if codes := watcher.subscribe(1, 0, sub("t/#", 0)); codes[0] != 0 {
				t.Fatalf("SUBACK %v", codes)
			}
			c, _ := mustConnect(t, addr, v, "p1", nil)
			for i, topic := range []string{strictTopic, strictPlane, strictWill} {
				c.publish(&codec.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: []byte(topic), Payload: []byte("b")})
				if a := c.recvAck(codec.TypePuback); a.Code >= 0x80 {
					t.Fatalf("PUBACK %v for %q", a.Code, topic)
				}
			}
			if m := watcher.recvPublish(); string(m.Topic) != strictTopic {
				t.Fatalf("got %q, want %q", m.Topic, strictTopic)
			}
		})
	}
}

// A topic alias set by a refused PUBLISH never exists; an alias-only PUBLISH reuses a topic
// that passed.
func TestStrictPublishTopicAlias(t *testing.T) {
	addr := strictNode(t, true)
	watcher, _ := mustConnect(t, addr, codec.V5, "watcher", nil)
	watcher.subscribe(1, 0, sub("#", 0))
	c, _ := mustConnect(t, addr, codec.V5, "p1", nil)
	pub := &codec.Publish{Topic: []byte("t/ok"), Payload: []byte("1")}
	pub.Props.SetTopicAlias(1)
	c.publish(pub)
	pub.Topic, pub.Payload = nil, []byte("2")
	c.publish(pub)
	for _, want := range []string{"1", "2"} {
		if m := watcher.recvPublish(); string(m.Topic) != "t/ok" || string(m.Payload) != want {
			t.Fatalf("got %q %q, want t/ok %q", m.Topic, m.Payload, want)
		}
	}
	pub.Topic, pub.Payload = []byte(strictPlane), []byte("3")
	c.publish(pub)
	c.closedWith(codec.TopicNameInvalid)
	watcher.silent(200 * time.Millisecond)
}

func TestStrictSubscribe(t *testing.T) {
	for _, v := range strictVersions {
		t.Run(v.String(), func(t *testing.T) {
			addr := strictNode(t, true)
			c, _ := mustConnect(t, addr, v, "s1", nil)
			codes := c.subscribe(1, 0, sub(strictFilter, 1), sub("ok/#", 1), sub(strictPlane, 0))
			want := []codec.ReasonCode{codec.TopicFilterInvalid, 1, codec.TopicFilterInvalid} // 0x8F
			if v != codec.V5 {
				want = []codec.ReasonCode{0x80, 1, 0x80} // MQTT 3.1.1 has one failure code
			}
			if !slices.Equal(codes, want) {
				t.Fatalf("SUBACK %v, want %v", codes, want)
			}
			// The refused filters are not subscribed, the good one is.
			p, _ := mustConnect(t, addr, v, "p1", nil)
			p.publish(&codec.Publish{Topic: []byte("ok/1"), Payload: []byte("x")})
			if m := c.recvPublish(); string(m.Topic) != "ok/1" {
				t.Fatalf("got %q", m.Topic)
			}
		})
		t.Run(v.String()+"/off", func(t *testing.T) {
			addr := strictNode(t, false)
			c, _ := mustConnect(t, addr, v, "s1", nil)
			codes := c.subscribe(1, 0, sub(strictFilter, 1), sub("ok/#", 1), sub(strictPlane, 0))
			if !slices.Equal(codes, []codec.ReasonCode{1, 1, 0}) {
				t.Fatalf("SUBACK %v, want [1 1 0]", codes)
			}
			p, _ := mustConnect(t, addr, v, "p1", nil)
			p.publish(&codec.Publish{Topic: []byte(strictPlane), Payload: []byte("x")})
			if m := c.recvPublish(); string(m.Topic) != strictPlane {
				t.Fatalf("got %q", m.Topic)
			}
		})
	}
}

// unsubscribe sends UNSUBSCRIBE and returns the UNSUBACK.
func (c *client) unsubscribe(id uint16, filters ...string) *codec.Unsuback {
	c.t.Helper()
	u := &codec.Unsubscribe{PacketID: id}
	for _, f := range filters {
		u.Filters = append(u.Filters, []byte(f))
	}
	c.send(codec.AppendUnsubscribe(nil, u, c.v))
	var ack codec.Unsuback
	if err := ack.Decode(c.expect(codec.TypeUnsuback), c.v); err != nil {
		c.t.Fatalf("bad UNSUBACK: %v", err)
	}
	if ack.PacketID != id {
		c.t.Fatalf("UNSUBACK for %d, want %d", ack.PacketID, id)
	}
	return &ack
}

func TestStrictUnsubscribe(t *testing.T) {
	t.Run("5.0", func(t *testing.T) {
		c, _ := mustConnect(t, strictNode(t, true), codec.V5, "s1", nil)
		c.subscribe(1, 0, sub("ok/#", 0))
		ack := c.unsubscribe(2, strictUnsub, "ok/#", strictPlane)
		want := []codec.ReasonCode{codec.TopicFilterInvalid, codec.Success, codec.TopicFilterInvalid}
		if !slices.Equal(ack.Codes, want) {
			t.Fatalf("UNSUBACK %v, want %v", ack.Codes, want)
		}
	})
	t.Run("3.1.1", func(t *testing.T) {
		// UNSUBACK has no code in MQTT 3.1.1: the connection is closed before any filter of
		// the packet takes effect, so the persistent session keeps ok/#.
		addr := strictNode(t, true)
		persistent := func(p *codec.Connect) { p.CleanStart = false }
		c, _ := mustConnect(t, addr, codec.V311, "s1", persistent)
		c.subscribe(1, 0, sub("ok/#", 1))
		c.send(codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 2, Filters: [][]byte{[]byte("ok/#"), []byte(strictUnsub)}}, codec.V311))
		c.closedSilently()

		c, ack := mustConnect(t, addr, codec.V311, "s1", persistent)
		if !ack.SessionPresent {
			t.Fatal("session not present")
		}
		p, _ := mustConnect(t, addr, codec.V311, "p1", nil)
		p.publish(&codec.Publish{Topic: []byte("ok/1"), Payload: []byte("x")})
		if m := c.recvPublish(); string(m.Topic) != "ok/1" {
			t.Fatalf("got %q", m.Topic)
		}
	})
	for _, v := range strictVersions {
		t.Run(v.String()+"/off", func(t *testing.T) {
			c, _ := mustConnect(t, strictNode(t, false), v, "s1", nil)
			c.subscribe(1, 0, sub(strictUnsub, 0))
			ack := c.unsubscribe(2, strictUnsub, strictPlane)
			if v == codec.V5 && !slices.Equal(ack.Codes, []codec.ReasonCode{codec.Success, codec.NoSubscriptionExisted}) {
				t.Fatalf("UNSUBACK %v, want [success, no subscription existed]", ack.Codes)
			}
			c.send(codec.AppendPingreq(nil))
			c.expect(codec.TypePingresp)
		})
	}
}

// strictConnect allocates nothing for a CONNECT it accepts.
func TestStrictConnectAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	p := &codec.Connect{Version: codec.V5, ClientID: []byte("sensor-\u00e9-42"), UsernameFlag: true, Username: []byte("user"),
		WillFlag: true, WillTopic: []byte("status/sensor-42")}
	allocs := testing.AllocsPerRun(1000, func() {
		if code, why := strictConnect(p); code != 0 {
			t.Fatal(why)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per CONNECT", allocs)
	}
}
