package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// slowAuthorizer answers like a network backend: topics under slow/ wait for the test to
// release them; deny/ is denied, wait/ never answers (until the deadline), everything else is
// ignored (acl.conf and acl_nomatch decide).
type slowAuthorizer struct {
	release chan struct{}
	calls   atomic.Int64
}

func (a *slowAuthorizer) Name() string { return "slow-backend" }

func (a *slowAuthorizer) Authorize(ctx context.Context, c *ClientInfo, access acl.Access, topic string) AuthDecision {
	a.calls.Add(1)
	switch {
	case strings.HasPrefix(topic, "slow/"):
		select {
		case <-a.release:
		case <-ctx.Done():
			return AuthDeny
		}
		return AuthAllow
	case strings.HasPrefix(topic, "deny/"):
		return AuthDeny
	case strings.HasPrefix(topic, "wait/"):
		<-ctx.Done()
		return AuthIgnore
	}
	return AuthIgnore
}

// A publish whose access check waits for a backend parks its connection's input in order:
// the packets behind it wait too, the loop goes on serving others, and when the answer comes
// everything is handled in the order it was sent.
func TestAsyncAuthorizationKeepsOrder(t *testing.T) {
	authz := &slowAuthorizer{release: make(chan struct{})}
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1; c.ACLCacheSize = 16; c.ACLCacheTTL = time.Minute })
	n.SetAuthorizers(authz)

	subscriber, _ := connectRaw(t, addr, codec.V5, "subscriber", nil)
	subscriber.subscribe(1, 0, sub("#", 1))
	pub, _ := connectRaw(t, addr, codec.V5, "publisher", nil)
	pub.publish(&codec.Publish{QoS: 1, PacketID: 1, Topic: []byte("slow/1"), Payload: []byte("first")})
	pub.publish(&codec.Publish{QoS: 1, PacketID: 2, Topic: []byte("other/1"), Payload: []byte("second")})
	pub.publish(&codec.Publish{QoS: 1, PacketID: 3, Topic: []byte("deny/1"), Payload: []byte("refused")})

	// Meanwhile another client on the same (single) loop is served.
	other, ack := connectRaw(t, addr, codec.V311, "other", nil)
	if ack.Code != 0 {
		t.Fatal(ack.Code)
	}
	other.subscribe(1, 0, sub("x", 0))
	pub.silent(150 * time.Millisecond) // parked: no PUBACK yet
	subscriber.silent(50 * time.Millisecond)

	close(authz.release)
	for i, want := range []uint16{1, 2} {
		a := pub.recvAck(codec.TypePuback)
		if a.PacketID != want || a.Code >= 0x80 {
			t.Fatalf("ack %d: id %d code %v", i, a.PacketID, a.Code)
		}
	}
	if a := pub.recvAck(codec.TypePuback); a.PacketID != 3 || a.Code != codec.NotAuthorized {
		t.Fatalf("denied publish: id %d code %v", a.PacketID, a.Code)
	}
	for _, want := range []string{"first", "second"} {
		m := subscriber.recvPublish()
		if string(m.Payload) != want {
			t.Fatalf("got %q, want %q", m.Payload, want)
		}
		subscriber.ack(codec.TypePuback, m.PacketID)
	}

	// The decision is cached: publishing to slow/1 again asks nobody.
	calls := authz.calls.Load()
	pub.publish(&codec.Publish{QoS: 1, PacketID: 4, Topic: []byte("slow/1"), Payload: []byte("cached")})
	if a := pub.recvAck(codec.TypePuback); a.PacketID != 4 || a.Code >= 0x80 {
		t.Fatalf("cached publish: %v", a.Code)
	}
	if got := authz.calls.Load(); got != calls {
		t.Fatalf("the authorizer was asked again (%d calls, had %d) for a cached decision", got, calls)
	}
}

func TestAsyncAuthorizationSubscribe(t *testing.T) {
	authz := &slowAuthorizer{release: make(chan struct{})}
	close(authz.release)
	n, addr := testNode(t, func(c *Config) { c.ACLTimeout = 300 * time.Millisecond })
	n.SetAuthorizers(authz)
	c, _ := connectRaw(t, addr, codec.V5, "s", nil)
	codes := c.subscribe(1, 0, sub("slow/#", 1), sub("deny/#", 1), sub("plain", 0), sub("wait/#", 1))
	want := []codec.ReasonCode{1, codec.NotAuthorized, 0, codec.NotAuthorized}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("SUBACK codes %v, want %v", codes, want)
		}
	}
}

// A connection that goes away while its packet waits for the access decision is simply gone:
// the late answer is dropped.
func TestAsyncAuthorizationCloseWhileParked(t *testing.T) {
	authz := &slowAuthorizer{release: make(chan struct{})}
	n, addr := testNode(t, nil)
	n.SetAuthorizers(authz)
	for i := range 10 {
		c, _ := connectRaw(t, addr, codec.V5, "gone"+string(rune('a'+i)), nil)
		c.publish(&codec.Publish{QoS: 1, PacketID: 1, Topic: []byte("slow/x"), Payload: []byte("x")})
		c.c.Close()
	}
	waitConns(t, n, 0)
	close(authz.release)
	b := newBystander(t, addr, "after")
	b.check()
}

// The will's topic is checked by the access-control chain too.
func TestAsyncAuthorizationWill(t *testing.T) {
	authz := &slowAuthorizer{release: make(chan struct{})}
	close(authz.release)
	n, addr := testNode(t, nil)
	n.SetAuthorizers(authz)
	watcher, _ := connectRaw(t, addr, codec.V5, "watcher", nil)
	watcher.subscribe(1, 0, sub("#", 0))
	for _, topic := range []string{"deny/will", "slow/will"} {
		c, ack := connectRaw(t, addr, codec.V5, "w-"+topic, func(p *codec.Connect) {
			p.WillFlag, p.WillTopic, p.WillPayload = true, []byte(topic), []byte("bye")
		})
		if ack.Code != 0 {
			t.Fatal(ack.Code)
		}
		c.c.Close()
	}
	if m := watcher.recvPublish(); string(m.Topic) != "slow/will" {
		t.Fatalf("got the will of %q; the denied will must not be published", m.Topic)
	}
	watcher.silent(100 * time.Millisecond)
}

// A decision known at once (acl.conf, no backend) allocates nothing.
func TestKnownAccessDecisionAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	rules, err := acl.Parse("acl.conf", []byte(`{allow, {user, "u"}, publish, ["t/#"]}. {deny, all}.`))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: &Config{}}
	n.acl.Store(rules)
	c := &conn{lis: &listenerState{Listener: Listener{Zone: DefaultZone()}}, loop: &loop{n: n}, username: "u", clientID: "c"}
	topic := []byte("t/1")
	allocs := testing.AllocsPerRun(1000, func() {
		if n.authorize(c, acl.Publish, topic) != aclAllow {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decision", allocs)
	}
}
