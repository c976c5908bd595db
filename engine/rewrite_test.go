package engine

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/rewrite"
)

func compileRules(t *testing.T, rules ...string) *rewrite.Rules {
	t.Helper()
	var list []rewrite.Rule
	for _, s := range rules {
		r, err := rewrite.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, r)
	}
	rs, err := rewrite.Compile(list)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// EMQX's example rule for publish and subscribe: a publish to x/y/1 reaches a subscriber of
// z/y/1 (published with mosquitto_pub), a subscription to x/y/2 becomes z/y/2, topics no
// rule's filter matches and topics the first matching rule's expression does not match stay
// as they are, and the will topic is rewritten too.
func TestRewrite(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	both := compileRules(t, `x/# ^x/y/(.+)$ z/y/$1`, `x/# ^(.*)$ never/$1`)
	n, addr := testNode(t, func(c *Config) { c.RewritePublish, c.RewriteSubscribe = both, both })

	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "s", CleanStart: true}, r)
	sub5(t, s, "z/y/1", 1)
	sub5(t, s, "x/y/2", 1) // becomes z/y/2
	sub5(t, s, "x/q", 1)   // x/# matches, the expression does not: unchanged, later rules unused
	sub5(t, s, "a/b", 1)
	hp := hostPort(t, addr)
	mosquitto(t, "mosquitto_pub", append(hp, "-V", "mqttv311", "-q", "1", "-t", "x/y/1", "-m", "one")...)
	r.expectMsg(t, "z/y/1", "one")
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	pub5(t, pub, "z/y/2", 1, "two") // reaches the subscription made to x/y/2
	r.expectMsg(t, "z/y/2", "two")
	pub5(t, pub, "x/q", 1, "q") // unchanged both ways
	r.expectMsg(t, "x/q", "q")
	pub5(t, pub, "a/b", 1, "ab") // no rule
	r.expectMsg(t, "a/b", "ab")
	pub5(t, pub, "x/y/2", 1, "two again") // rewritten to z/y/2 on the way in
	r.expectMsg(t, "z/y/2", "two again")
	r.none(t, 100*time.Millisecond)

	// UNSUBSCRIBE x/y/2 removes the z/y/2 subscription.
	if ua, err := s.Unsubscribe(ctx5(t), &paho.Unsubscribe{Topics: []string{"x/y/2"}}); err != nil || ua.Reasons[0] != 0 {
		t.Fatalf("unsubscribe: %v %+v", err, ua)
	}
	pub5(t, pub, "z/y/2", 0, "gone")
	fence(t, n, r, "z/y/1")

	// A shared subscription is rewritten inside its prefix.
	sub5(t, s, "$share/g/x/y/3", 1)
	pub5(t, pub, "z/y/3", 1, "shared")
	r.expectMsg(t, "z/y/3", "shared")

	// The will goes to the rewritten topic.
	w, _ := mustConnect(t, addr, codec.V311, "w", func(c *codec.Connect) {
		c.WillFlag, c.WillTopic, c.WillPayload, c.WillQoS = true, []byte("x/y/1"), []byte("will"), 1
	})
	w.c.Close()
	r.expectMsg(t, "z/y/1", "will")
}

// EMQX 4's pub.rule.N and sub.rule.N keys: a publish-only rule leaves subscriptions alone, a
// subscribe-only rule leaves publishes alone.
func TestRewritePubSubOnly(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, func(c *Config) {
		c.RewritePublish = compileRules(t, `p/# ^p/(.*)$ pp/$1`)
		c.RewriteSubscribe = compileRules(t, `s/# ^s/(.*)$ ss/$1`)
	})
	r := newReceived()
	c, _ := v5(t, addr, &paho.Connect{ClientID: "c", CleanStart: true}, r)
	sub5(t, c, "p/1", 1) // not rewritten: a publish to p/1 goes to pp/1, so nothing arrives
	sub5(t, c, "pp/1", 1)
	sub5(t, c, "s/1", 1) // becomes ss/1
	pub5(t, c, "p/1", 1, "pub rule")
	r.expectMsg(t, "pp/1", "pub rule")
	pub5(t, c, "ss/1", 1, "to ss")
	r.expectMsg(t, "ss/1", "to ss")
	pub5(t, c, "s/1", 1, "to s") // publishes are not rewritten by sub rules: no subscriber of s/1
	r.none(t, 200*time.Millisecond)
}

// The ACL judges the rewritten topic, for publish and subscribe alike.
func TestRewriteACL(t *testing.T) {
	t.Parallel()
	rules, err := acl.Parse("acl.conf", []byte("{deny, all, pubsub, [\"z/#\"]}.\n{allow, all}."))
	if err != nil {
		t.Fatal(err)
	}
	rw := compileRules(t, `x/# ^x/y/(.+)$ z/y/$1`)
	_, addr := testNode(t, func(c *Config) { c.ACL, c.RewritePublish, c.RewriteSubscribe = rules, rw, rw })
	c, _ := mustConnect(t, addr, codec.V5, "c", nil)
	if codes := c.subscribe(1, 0, sub("x/y/1", 1), sub("x/other", 1)); codes[0] != codec.NotAuthorized || codes[1] != 1 {
		t.Fatalf("SUBACK %v, want [not authorized, 1]", codes)
	}
	c.publish(&codec.Publish{Topic: []byte("x/y/1"), Payload: []byte("denied"), QoS: 1, PacketID: 1})
	if a := c.recvAck(codec.TypePuback); a.Code != codec.NotAuthorized {
		t.Fatalf("PUBACK %v, want not authorized", a.Code)
	}
	c.publish(&codec.Publish{Topic: []byte("x/other"), Payload: []byte("allowed"), QoS: 1, PacketID: 2})
	// The message and the PUBACK may come in either order.
	var gotMsg, gotAck bool
	for !gotMsg || !gotAck {
		h, pkt := c.packet()
		switch h.Type {
		case codec.TypePublish:
			gotMsg = true
		case codec.TypePuback:
			var a codec.Ack
			if err := a.Decode(pkt, c.v); err != nil || a.Code != codec.Success {
				t.Fatalf("PUBACK %v %v", a.Code, err)
			}
			gotAck = true
		default:
			t.Fatalf("got %v", h.Type)
		}
	}
}

// A rewrite whose result is not a valid topic is treated like an invalid topic from the
// client: PUBLISH → DISCONNECT 0x90, SUBSCRIBE/UNSUBSCRIBE → 0x8F, will → CONNACK 0x90.
func TestRewriteInvalidResult(t *testing.T) {
	t.Parallel()
	rw := compileRules(t, `bad/# ^bad/(.*)$ z/#/$1`)
	_, addr := testNode(t, func(c *Config) { c.RewritePublish, c.RewriteSubscribe = rw, rw })
	c, _ := mustConnect(t, addr, codec.V5, "c", nil)
	if codes := c.subscribe(1, 0, sub("bad/1", 1), sub("good/1", 1)); codes[0] != codec.TopicFilterInvalid || codes[1] != 1 {
		t.Fatalf("SUBACK %v, want [topic filter invalid, 1]", codes)
	}
	c.send(codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 2, Filters: [][]byte{[]byte("bad/1"), []byte("good/1")}}, c.v))
	var ua codec.Unsuback
	if err := ua.Decode(c.expect(codec.TypeUnsuback), c.v); err != nil || ua.Codes[0] != codec.TopicFilterInvalid || ua.Codes[1] != codec.Success {
		t.Fatalf("UNSUBACK %v %v", ua.Codes, err)
	}
	c.publish(&codec.Publish{Topic: []byte("bad/1"), Payload: []byte("x"), QoS: 1, PacketID: 3})
	c.closedWith(codec.TopicNameInvalid)

	w, ack := connectRaw(t, addr, codec.V5, "w", func(c *codec.Connect) {
		c.WillFlag, c.WillTopic, c.WillPayload = true, []byte("bad/will"), []byte("x")
	})
	if ack.Code != codec.TopicNameInvalid {
		t.Fatalf("CONNACK %v, want topic name invalid", ack.Code)
	}
	w.closedSilently()
}
