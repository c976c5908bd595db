package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
)

// cachedDecisionSetup returns a node with the ACL cache on as shipped (32 entries, 1 minute)
// and acl.conf rules, with the access-control chain a installed when a is not nil, and a
// connection whose cache holds the decision for topic: the state of a publisher after its
// first message (with a chain, its first decision came from the backend).
func cachedDecisionSetup(t testing.TB, a Authorizer, topic []byte) (*Node, *conn) {
	rules, err := acl.Parse("acl.conf", []byte(`{allow, all}.`))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: &Config{ACLCacheSize: 32, ACLCacheTTL: time.Minute}}
	n.acl.Store(rules)
	if a != nil {
		n.SetAuthorizers(a)
	}
	c := &conn{lis: &listenerState{Listener: Listener{Zone: DefaultZone()}}, loop: &loop{n: n, now: time.Now().UnixNano()}, username: "u", clientID: "c"}
	if a != nil {
		if got := n.authorize(c, acl.Publish, topic); got != aclPending {
			t.Fatalf("first decision with a chain: %v, want pending", got)
		}
		// The chain's answer, as parkACL's completion hands it to the packet handled again.
		c.extra().decided = []aclDecision{{access: acl.Publish, topic: string(topic), allow: true}}
	}
	if got := n.authorize(c, acl.Publish, topic); got != aclAllow {
		t.Fatalf("decision: %v, want allow", got)
	}
	if c.ext != nil {
		c.ext.decided = nil
	}
	return n, c
}

// Once a connection's ACL cache holds a topic's decision, a publish to it takes the same path
// whether the decision came from a backend (emqx_auth_redis's acl_cmd) or from acl.conf: no
// call to the chain, no task, no allocation (the acl-redis bench row compares the two).
func TestCachedDecisionWithChainAllocatesNothing(t *testing.T) {
	topic := []byte("bench/p2p/1")
	a := &slowAuthorizer{release: make(chan struct{})}
	n, c := cachedDecisionSetup(t, a, topic)
	calls := a.calls.Load()
	check := func() {
		if got := n.authorize(c, acl.Publish, topic); got != aclAllow {
			t.Fatalf("cached decision: %v, want allow", got)
		}
	}
	check()
	if got := a.calls.Load(); got != calls {
		t.Fatalf("the chain was asked %d more times for a cached topic", got-calls)
	}
	if raceEnabled {
		return // allocation counts are not meaningful under the race detector
	}
	if allocs := testing.AllocsPerRun(1000, check); allocs != 0 {
		t.Fatalf("%v allocations per cached decision with a chain installed", allocs)
	}
}

// BenchmarkCachedDecision compares a cached publish decision with and without a chain.
func BenchmarkCachedDecision(b *testing.B) {
	topic := []byte("bench/p2p/1")
	for _, bc := range []struct {
		name string
		a    Authorizer
	}{{"aclconf", nil}, {"chain", &slowAuthorizer{release: make(chan struct{})}}} {
		b.Run(bc.name, func(b *testing.B) {
			n, c := cachedDecisionSetup(b, bc.a, topic)
			b.ReportAllocs()
			for b.Loop() {
				if n.authorize(c, acl.Publish, topic) != aclAllow {
					b.Fatal("denied")
				}
			}
		})
	}
}
