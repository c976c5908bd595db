package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestClientIdentifiers(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxClientIDLen = 10 })
	f := func(v codec.Version, id string, clean bool, want codec.ReasonCode) *codec.Connack {
		t.Helper()
		_, ack := connectRaw(t, addr, v, id, func(c *codec.Connect) { c.CleanStart = clean })
		if ack.Code != want {
			t.Fatalf("v%s id %q clean %v: CONNACK %v, want %v", v, id, clean, ack.Code, want)
		}
		return ack
	}
	ack := f(codec.V5, "", true, codec.Success)
	if !ack.Props.Has(codec.PropAssignedClientID) || len(ack.Props.AssignedClientID) == 0 {
		t.Fatal("MQTT 5 empty client id: no Assigned Client Identifier [MQTT-3.2.2-16]")
	}
	f(codec.V5, "", false, codec.Success)
	f(codec.V311, "", true, codec.Success)
	f(codec.V311, "", false, codec.ClientIdentifierNotValid) // return code 2 [MQTT-3.1.3-9]
	f(codec.V31, "", true, codec.ClientIdentifierNotValid)
	f(codec.V5, "eleven-char", true, codec.ClientIdentifierNotValid)
	f(codec.V311, "eleven-char", true, codec.ClientIdentifierNotValid)
	f(codec.V311, "ten-chars!", true, codec.Success)
}

func TestKeepAliveEnforced(t *testing.T) {
	_, addr := testNode(t, nil)
	c, ack := connectRaw(t, addr, codec.V5, "ka", func(c *codec.Connect) { c.KeepAlive = 1 })
	if ack.Code != 0 {
		t.Fatal(ack.Code)
	}
	start := time.Now()
	if code := c.disconnectPacket(); code != codec.KeepAliveTimeout {
		t.Fatalf("DISCONNECT %v, want keep alive timeout", code)
	}
	// 1.5 × keep alive with the default backoff 0.75; the sweep runs every 100 ms.
	if el := time.Since(start); el < 1400*time.Millisecond || el > 3*time.Second {
		t.Fatalf("closed after %v, want about 1.5s", el)
	}
	c.closed()

	// A client that pings stays connected past the keep alive.
	p, _ := connectRaw(t, addr, codec.V311, "pinger", func(c *codec.Connect) { c.KeepAlive = 1 })
	for range 4 {
		time.Sleep(500 * time.Millisecond)
		p.send(codec.AppendPingreq(nil))
		p.expect(codec.TypePingresp)
	}
}

func TestIdleTimeoutWithoutConnect(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.IdleTimeout = 300 * time.Millisecond })
	start := time.Now() // before the dial: the broker may accept before Dial returns
	r := dialRaw(t, addr)
	if pkts := r.closed(); len(pkts) != 0 {
		t.Fatalf("got packets % x", pkts)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("closed after %v, before idle_timeout", el)
	}
}

func TestServerKeepAliveAndConnackProperties(t *testing.T) {
	_, addr := testNode(t, func(c *Config) {
		z := c.Listeners[0].Zone
		z.ServerKeepalive = 5
		z.MaxQoSAllowed = 1
		z.RetainAvailable = false
		z.WildcardSubscription = false
		z.SharedSubscription = false
		z.MaxTopicAlias = 10
	})
	_, ack := connectRaw(t, addr, codec.V5, "props", nil)
	p := &ack.Props
	checks := []struct {
		name string
		ok   bool
	}{
		{"server keep alive 5", p.Has(codec.PropServerKeepAlive) && p.ServerKeepAlive == 5},
		{"maximum QoS 1", p.Has(codec.PropMaximumQoS) && p.MaximumQoS == 1},
		{"retain not available", p.Has(codec.PropRetainAvailable) && p.RetainAvailable == 0},
		{"wildcards not available", p.Has(codec.PropWildcardSubAvailable) && p.WildcardSubAvailable == 0},
		{"shared not available", p.Has(codec.PropSharedSubAvailable) && p.SharedSubAvailable == 0},
		{"topic alias maximum 10", p.Has(codec.PropTopicAliasMaximum) && p.TopicAliasMaximum == 10},
		{"maximum packet size", p.Has(codec.PropMaximumPacketSize) && p.MaximumPacketSize == 1<<20},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("CONNACK: want %s, got %+v", c.name, p)
		}
	}
}

func TestTakeoverKeepsSession(t *testing.T) {
	_, addr := testNode(t, nil)
	persistent := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(300) }
	a, ack := connectRaw(t, addr, codec.V5, "dev", persistent)
	if ack.SessionPresent {
		t.Fatal("new session reported present")
	}
	if codes := a.subscribe(1, 0, sub("cmd/dev", 1)); codes[0] != 1 {
		t.Fatal(codes)
	}
	b, ack := connectRaw(t, addr, codec.V5, "dev", persistent)
	if !ack.SessionPresent {
		t.Fatal("takeover: session present not set")
	}
	if code := a.disconnectPacket(); code != codec.SessionTakenOver {
		t.Fatalf("old connection got %v, want 0x8E", code)
	}
	a.closed()
	pub, _ := connectRaw(t, addr, codec.V311, "pub", nil)
	pub.publish(&codec.Publish{Topic: []byte("cmd/dev"), QoS: 1, PacketID: 7, Payload: []byte("on")})
	pub.recvAck(codec.TypePuback)
	if got := b.recvPublish(); string(got.Payload) != "on" {
		t.Fatalf("got %q", got.Payload)
	}

	// Clean start discards the session: no subscription any more.
	c, ack := connectRaw(t, addr, codec.V5, "dev", nil)
	if ack.SessionPresent {
		t.Fatal("clean start: session present set")
	}
	b.disconnectPacket()
	pub.publish(&codec.Publish{Topic: []byte("cmd/dev"), QoS: 1, PacketID: 8, Payload: []byte("off")})
	pub.recvAck(codec.TypePuback)
	c.silent(300 * time.Millisecond)
}

func TestSessionExpiry(t *testing.T) {
	_, addr := testNode(t, nil)
	withExpiry := func(s uint32) func(*codec.Connect) {
		return func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(s) }
	}
	// Expiry 1 s: the session survives a quick reconnect, not a slow one.
	a, _ := connectRaw(t, addr, codec.V5, "exp", withExpiry(1))
	a.disconnect(0, nil)
	time.Sleep(200 * time.Millisecond)
	a, ack := connectRaw(t, addr, codec.V5, "exp", withExpiry(1))
	if !ack.SessionPresent {
		t.Fatal("session gone before its expiry")
	}
	a.disconnect(0, nil)
	time.Sleep(1600 * time.Millisecond)
	a, ack = connectRaw(t, addr, codec.V5, "exp", withExpiry(1))
	if ack.SessionPresent {
		t.Fatal("session present after its expiry")
	}
	// DISCONNECT may shorten the expiry to 0: the session ends at once.
	a.disconnect(0, func(d *codec.Disconnect) { d.Props.SetSessionExpiry(0) })
	time.Sleep(200 * time.Millisecond)
	a, ack = connectRaw(t, addr, codec.V5, "exp", withExpiry(0))
	if ack.SessionPresent {
		t.Fatal("session present after DISCONNECT set expiry 0")
	}
	// With expiry 0 at CONNECT, a DISCONNECT setting one is a protocol error [MQTT-3.14.2-2].
	a.send(codec.AppendDisconnect(nil, &codec.Disconnect{Props: func() (p codec.Properties) { p.SetSessionExpiry(30); return }()}, codec.V5))
	if code := a.disconnectPacket(); code != codec.ProtocolError {
		t.Fatalf("got %v, want protocol error", code)
	}

	// MQTT 3.1.1 clean session false keeps the session with the zone's expiry.
	b, _ := connectRaw(t, addr, codec.V311, "old", func(c *codec.Connect) { c.CleanStart = false })
	b.disconnect(0, nil)
	time.Sleep(100 * time.Millisecond)
	_, ack = connectRaw(t, addr, codec.V311, "old", func(c *codec.Connect) { c.CleanStart = false })
	if !ack.SessionPresent {
		t.Fatal("3.1.1 persistent session not present")
	}
}

func TestSecondConnectIsProtocolError(t *testing.T) {
	_, addr := testNode(t, nil)
	c, _ := connectRaw(t, addr, codec.V5, "twice", nil)
	c.send(connectPacket(codec.V5, "twice", nil))
	if code := c.disconnectPacket(); code != codec.ProtocolError {
		t.Fatalf("got %v", code)
	}
	c.closed()
}

func TestAnonymousRefused(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.AllowAnonymous = false })
	_, ack := connectRaw(t, addr, codec.V5, "anon", nil)
	if ack.Code != codec.NotAuthorized {
		t.Fatalf("v5: %v", ack.Code)
	}
	if !strings.Contains(string(ack.Props.ReasonString), "anonymous") {
		t.Fatalf("reason string %q", ack.Props.ReasonString)
	}
	_, ack = connectRaw(t, addr, codec.V311, "anon", nil)
	if ack.Code.V3ConnackCode() != 5 {
		t.Fatalf("3.1.1: %v", ack.Code)
	}
}
