package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// checkLinear is the reference: every rule in order, no index.
func (r *Rules) checkLinear(c *Client, access Access, topic []byte) Result {
	addr := peerAddr(c.Addr)
	for i := range r.rules {
		if res := r.rules[i].decide(c, addr, access, topic, access == Subscribe); res != NoMatch {
			return res
		}
	}
	return NoMatch
}

// TestIndexMatchesLinearScan checks on random rule sets that the username/client id index
// decides every request exactly as trying all rules in order does.
func TestIndexMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var genWho func(depth int) string
	genWho = func(depth int) string {
		switch n := rng.IntN(10); {
		case n < 3:
			return fmt.Sprintf("{%s, %q}", pick("user", "username"), pick("a", "b", "c"))
		case n < 5:
			return fmt.Sprintf("{%s, %q}", pick("client", "clientid"), pick("1", "2", "3"))
		case n == 5:
			return pick("all", "{user, all}", "{client, all}", `{ipaddr, "10.0.0.0/8"}`, `{ipaddrs, ["::1", "10.1.0.0/16"]}`)
		case depth < 2:
			parts := make([]string, rng.IntN(3))
			for i := range parts {
				parts[i] = genWho(depth + 1)
			}
			return fmt.Sprintf("{%s, [%s]}", pick("'and'", "'or'"), strings.Join(parts, ", "))
		}
		return "all"
	}
	topics := []string{`"#"`, `"a/+"`, `"a/#"`, `"$SYS/#"`, `"%u/#"`, `"+/%c"`, `{eq, "a/b"}`, `"a/b"`}
	requests := []string{"a/b", "a/+", "a/#", "#", "$SYS/x", "a/1", "b/2", "a", "c/x/y"}
	for round := range 200 {
		var sb strings.Builder
		n := indexMinRules + rng.IntN(40)
		for range n {
			if rng.IntN(20) == 0 {
				fmt.Fprintf(&sb, "{%s, all}.\n", pick("allow", "deny"))
				continue
			}
			ts := make([]string, 1+rng.IntN(2))
			for i := range ts {
				ts[i] = topics[rng.IntN(len(topics))]
			}
			fmt.Fprintf(&sb, "{%s, %s, %s, [%s]}.\n", pick("allow", "deny"), genWho(0),
				pick("publish", "subscribe", "pubsub"), strings.Join(ts, ", "))
		}
		r := mustParse(t, sb.String())
		for _, user := range []string{"", "a", "b", "c", "d"} {
			for _, id := range []string{"", "1", "2", "a"} {
				for _, addr := range []string{"", "10.1.2.3", "::1"} {
					c := client(user, id, addr)
					for _, topic := range requests {
						for _, access := range []Access{Publish, Subscribe} {
							got := r.Check(c, access, []byte(topic))
							want := r.checkLinear(c, access, []byte(topic))
							if got != want {
								t.Fatalf("round %d: Check(%+v, %s, %q) = %s, linear scan %s\n%s",
									round, *c, access, topic, got, want, sb.String())
							}
							if ru, found := r.Explain(c, access, []byte(topic)); found != (got != NoMatch) || found && ru.Permission != got {
								t.Fatalf("round %d: Explain(%+v, %s, %q) = %+v %v, Check %s", round, *c, access, topic, ru, found, got)
							}
						}
					}
				}
			}
		}
	}
}

// TestIndexedCheckAllocs checks that a large rule set is indexed and that a check through the
// index allocates nothing (an allocation gate: its name contains Alloc, see the Makefile's
// ALLOC_GATES).
func TestIndexedCheckAllocs(t *testing.T) {
	r := rules1000(t)
	if r.byUser == nil || len(r.byUser) != 333 || len(r.byClient) != 333 || len(r.rest) != 334 {
		t.Fatalf("index: %d users, %d clients, %d others", len(r.byUser), len(r.byClient), len(r.rest))
	}
	if Default().byUser != nil {
		t.Fatal("a 4-rule set should not be indexed")
	}
	c := &Client{Username: "user996", ClientID: "dev996", Addr: netip.MustParseAddr("10.0.0.1")}
	if n := testing.AllocsPerRun(100, func() { r.Check(c, Subscribe, []byte("site/1/x/#")) }); n != 0 {
		t.Fatalf("indexed Check allocates %v times", n)
	}
}
