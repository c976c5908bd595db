package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// TestManageACLCache lists a client's cached publish decisions and empties the cache, over a
// real connection.
func TestManageACLCache(t *testing.T) {
	rules, err := acl.Parse("acl.conf", []byte("{deny, all, publish, [\"secret/#\"]}.\n{allow, all, pubsub, [\"#\"]}."))
	if err != nil {
		t.Fatal(err)
	}
	n, addr := testNode(t, func(c *Config) {
		c.ACL = rules
		c.ACLCacheSize, c.ACLCacheTTL = 8, time.Minute
	})
	c, _ := mustConnect(t, addr, codec.V5, "cached", nil)
	pub := func(id uint16, topic string, want codec.ReasonCode) {
		t.Helper()
		c.publish(&codec.Publish{Topic: []byte(topic), QoS: 1, PacketID: id, Payload: []byte("x")})
		if a := c.recvAck(codec.TypePuback); a.Code != want {
			t.Fatalf("publish %s: 0x%02x, want 0x%02x", topic, a.Code, want)
		}
	}
	before := time.Now().Add(-time.Second)
	pub(1, "open/1", 0x10) // allowed, no subscribers
	pub(2, "secret/1", codec.NotAuthorized)

	es, err := n.ACLCache(mctx(t), "cached")
	if err != nil || len(es) != 2 {
		t.Fatalf("ACLCache: %+v, %v", es, err)
	}
	byTopic := map[string]ACLCacheEntry{es[0].Topic: es[0], es[1].Topic: es[1]}
	if e := byTopic["open/1"]; !e.Allow || !e.Publish || e.Updated.Before(before) || e.Expires.Sub(e.Updated) != time.Minute {
		t.Fatalf("open/1 entry %+v", e)
	}
	if e := byTopic["secret/1"]; e.Allow {
		t.Fatalf("secret/1 entry %+v", e)
	}

	if err := n.CleanACLCache(mctx(t), "cached"); err != nil {
		t.Fatal(err)
	}
	if es, err := n.ACLCache(mctx(t), "cached"); err != nil || len(es) != 0 {
		t.Fatalf("after clean: %+v, %v", es, err)
	}
	pub(3, "secret/1", codec.NotAuthorized) // decided again, cached again
	if es, _ := n.ACLCache(mctx(t), "cached"); len(es) != 1 || es[0].Topic != "secret/1" {
		t.Fatalf("after a new publish: %+v", es)
	}
	if _, err := n.ACLCache(mctx(t), "nobody"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("ACLCache(nobody): %v", err)
	}
	if err := n.CleanACLCache(mctx(t), "nobody"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("CleanACLCache(nobody): %v", err)
	}
}
