package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// A zone mountpoint (with %c expanded) prefixes what a client publishes and subscribes to, and
// is stripped from what it receives; clients under other mountpoints do not see each other,
// and a listener without a mountpoint sees the full topics.
func TestMountpoint(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.Mountpoint = "tenant/%c/"
		c.Listeners = append(c.Listeners, Listener{Kind: "tcp", Name: "internal", Addr: "127.0.0.1:0", Zone: DefaultZone(), MaxConnections: 100})
	})
	internal := n.Addr("internal")
	a, _ := connectRaw(t, addr, codec.V5, "a", nil)
	a.subscribe(1, 0, sub("up/#", 0))
	b, _ := connectRaw(t, addr, codec.V311, "b", nil)
	b.subscribe(1, 0, sub("up/#", 0))
	admin, _ := connectRaw(t, internal, codec.V311, "admin", nil)
	admin.subscribe(1, 0, sub("tenant/#", 0))

	// a publishes into its own space: a gets it back without the prefix, the unmounted admin
	// sees the full topic, b (another mountpoint) nothing.
	a.publish(&codec.Publish{Topic: []byte("up/x"), Payload: []byte("from a")})
	if m := a.recvPublish(); string(m.Topic) != "up/x" || string(m.Payload) != "from a" {
		t.Fatalf("a got %q %q", m.Topic, m.Payload)
	}
	if m := admin.recvPublish(); string(m.Topic) != "tenant/a/up/x" {
		t.Fatalf("admin got %q, want tenant/a/up/x", m.Topic)
	}
	b.silent(200 * time.Millisecond)

	// The admin publishes into b's space: b receives it with its mountpoint stripped.
	admin.publish(&codec.Publish{Topic: []byte("tenant/b/up/y"), Payload: []byte("to b")})
	if m := b.recvPublish(); string(m.Topic) != "up/y" || string(m.Payload) != "to b" {
		t.Fatalf("b got %q %q", m.Topic, m.Payload)
	}
	a.silent(200 * time.Millisecond)
}
