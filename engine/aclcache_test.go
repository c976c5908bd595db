package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// Publish decisions are cached per connection (enable_acl_cache), and an acl reload takes
// effect at once for connections that cached the old decision.
func TestACLCacheAndReload(t *testing.T) {
	t.Parallel()
	allowAll, err := acl.Parse("acl.conf", []byte(`{allow, all, pubsub, ["#"]}.`))
	if err != nil {
		t.Fatal(err)
	}
	denyData, err := acl.Parse("acl.conf", []byte("{deny, all, publish, [\"data/#\"]}.\n{allow, all, pubsub, [\"#\"]}."))
	if err != nil {
		t.Fatal(err)
	}
	n, addr := testNode(t, func(c *Config) {
		c.ACL = allowAll
		c.ACLNoMatch = acl.Deny
		c.ACLCacheSize, c.ACLCacheTTL = 4, time.Minute
	})
	c, _ := mustConnect(t, addr, codec.V5, "pub", nil)
	pub := func(id uint16, topic string) codec.ReasonCode {
		t.Helper()
		c.publish(&codec.Publish{Topic: []byte(topic), QoS: 1, PacketID: id, Payload: []byte("x")})
		a := c.recvAck(codec.TypePuback)
		if a.PacketID != id {
			t.Fatalf("PUBACK for %d, want %d", a.PacketID, id)
		}
		return a.Code
	}
	// More topics than the cache holds: each is checked, the oldest entries are replaced.
	for i := range 10 {
		if code := pub(uint16(i+1), fmt.Sprintf("data/%d", i)); code >= 0x80 {
			t.Fatalf("data/%d refused: %v", i, code)
		}
	}
	n.SetACL(denyData)
	for i := 9; i >= 0; i-- { // the newest first, still cached: the new rules decide anyway
		if code := pub(uint16(i+20), fmt.Sprintf("data/%d", i)); code != codec.NotAuthorized {
			t.Fatalf("data/%d after reload: %v, want 0x87", i, code)
		}
	}
	if code := pub(40, "other"); code >= 0x80 {
		t.Fatalf("other refused: %v", code)
	}
	n.SetACL(allowAll)
	if code := pub(41, "data/1"); code >= 0x80 {
		t.Fatalf("data/1 after second reload: %v", code)
	}
}

func TestACLCacheEntries(t *testing.T) {
	r1, r2 := &acl.Rules{}, &acl.Rules{}
	var a aclCache
	a.put(r1, []byte("t/1"), true, 0, 100, 2)
	a.put(r1, []byte("t/2"), false, 0, 100, 2)
	if allow, ok := a.get(r1, []byte("t/1"), 50); !ok || !allow {
		t.Fatalf("t/1: %v %v", allow, ok)
	}
	if allow, ok := a.get(r1, []byte("t/2"), 50); !ok || allow {
		t.Fatalf("t/2: %v %v", allow, ok)
	}
	if _, ok := a.get(r1, []byte("t/1"), 100); ok {
		t.Fatal("expired entry used")
	}
	if _, ok := a.get(r2, []byte("t/1"), 50); ok {
		t.Fatal("entry used under other rules")
	}
	a.put(r1, []byte("t/3"), true, 10, 100, 2) // full: replaces the oldest slot
	if len(a.entries) != 2 {
		t.Fatalf("%d entries, limit 2", len(a.entries))
	}
	if _, ok := a.get(r1, []byte("t/3"), 50); !ok {
		t.Fatal("t/3 not cached")
	}
	a.put(r2, []byte("t/9"), true, 0, 100, 2) // other rules: the old decisions go
	if len(a.entries) != 1 {
		t.Fatalf("%d entries after the rules changed", len(a.entries))
	}
}
