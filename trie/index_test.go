package trie

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// bruteMatch is the reference matcher: a direct reading of MQTT 4.7.
func bruteMatch(filter, topic string) bool {
	f := strings.Split(filter, "/")
	t := strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, fl := range f {
		if fl == "#" {
			return true
		}
		if i >= len(t) || (fl != "+" && fl != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// collector records what a match reports, for tests.
type collector struct {
	subs   []string
	groups []string
}

func (c *collector) OnSubscriber(k int, o Options) {
	c.subs = append(c.subs, fmt.Sprintf("%d:q%d:id%d", k, o.QoS, o.SubID))
}

func (c *collector) OnGroup(g *Group[int]) {
	var ms []string
	for _, m := range g.Members() {
		ms = append(ms, fmt.Sprintf("%d:q%d", m.Handle, m.Options.QoS))
	}
	slices.Sort(ms)
	c.groups = append(c.groups, g.Name()+"|"+g.Filter()+"|"+strings.Join(ms, ","))
}

func matchAll(x *Index[int], topic string) *collector {
	c := &collector{}
	x.Match([]byte(topic), c)
	slices.Sort(c.subs)
	slices.Sort(c.groups)
	return c
}

func TestMatchSemantics(t *testing.T) {
	f := func(filter, topic string, want bool) {
		t.Helper()
		x := New[int]()
		if _, err := x.Subscribe(filter, 1, Options{}); err != nil {
			t.Fatalf("Subscribe(%q): %v", filter, err)
		}
		got := len(matchAll(x, topic).subs) == 1
		if got != want {
			t.Fatalf("filter %q topic %q: got %v want %v", filter, topic, got, want)
		}
		if b := bruteMatch(filter, topic); b != want {
			t.Fatalf("brute matcher disagrees on %q %q", filter, topic)
		}
	}
	f("a", "a", true)
	f("a", "b", false)
	f("a/b", "a/b", true)
	f("a/b", "a", false)
	f("a", "a/b", false)
	f("#", "a/b/c", true)
	f("#", "/", true)
	f("a/#", "a", true)
	f("a/#", "a/b/c", true)
	f("a/#", "ab", false)
	f("a/+", "a/b", true)
	f("a/+", "a/", true)
	f("a/+", "a", false)
	f("a/+", "a/b/c", false)
	f("+", "a", true)
	f("+", "", true)
	f("+", "/a", false)
	f("+/a", "/a", true)
	f("/a", "/a", true)
	f("a//b", "a//b", true)
	f("a/+/b", "a//b", true)
	f("a//b", "a/b", false)
	f("+/+", "/", true)
	f("+/#", "a", true)
	f("#", "$SYS/x", false)
	f("+/x", "$SYS/x", false)
	f("+", "$x", false)
	f("$SYS/#", "$SYS/brokers/n1/uptime", true)
	f("$SYS/#", "$SYS", true)
	f("$SYS/+/n1/#", "$SYS/brokers/n1/uptime", true)
	f("$x/+", "$x/y", true)
	f("a/$x", "a/$x", true)
	f("a/+", "a/$x", true) // '$' matters only in the first level
}

func TestInvalidFilters(t *testing.T) {
	x := New[int]()
	for _, filter := range []string{"", "a/#/b", "a+", "a/b#", "#a", "$share", "$share/", "$share/g", "$share/g/",
		"$share//a", "$share/g+/a", "$queue/", "$queue", strings.Repeat("a/", MaxLevels) + "a"} {
		if _, err := x.Subscribe(filter, 1, Options{}); err != ErrInvalidFilter {
			t.Errorf("Subscribe(%q) = %v, want ErrInvalidFilter", filter, err)
		}
		if ValidFilter(filter) {
			t.Errorf("ValidFilter(%q) = true", filter)
		}
		if x.Unsubscribe(filter, 1) {
			t.Errorf("Unsubscribe(%q) = true", filter)
		}
	}
	for _, filter := range []string{"a", "#", "+", "/", "//", "$share/g/#", "$queue/a/+", strings.Repeat("a/", MaxLevels-1) + "a"} {
		if !ValidFilter(filter) {
			t.Errorf("ValidFilter(%q) = false", filter)
		}
	}
	if s := x.Stats(); s != (Stats{}) {
		t.Fatalf("stats after invalid filters: %+v", s)
	}
	// Deep topics never match and never panic.
	x.Subscribe("#", 1, Options{})
	if c := matchAll(x, strings.Repeat("a/", 5*MaxLevels)); len(c.subs) != 0 {
		t.Fatalf("too deep topic matched")
	}
	if c := matchAll(x, strings.Repeat("a/", MaxLevels-1)+"a"); len(c.subs) != 1 {
		t.Fatalf("topic of MaxLevels levels did not match")
	}
}

func TestResubscribeReplacesOptions(t *testing.T) {
	x := New[int]()
	if added, _ := x.Subscribe("a/b", 1, Options{QoS: 0}); !added {
		t.Fatal("first subscribe not added")
	}
	if added, _ := x.Subscribe("a/b", 1, Options{QoS: 2}); added {
		t.Fatal("re-subscribe reported as added")
	}
	c := matchAll(x, "a/b")
	if !slices.Equal(c.subs, []string{"1:q2:id0"}) {
		t.Fatalf("got %v", c.subs)
	}
	if s := x.Stats(); s.Subscriptions != 1 || s.Filters != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSharedGroups(t *testing.T) {
	x := New[int]()
	x.Subscribe("$share/g1/a/+", 1, Options{QoS: 1})
	x.Subscribe("$share/g1/a/+", 2, Options{})
	x.Subscribe("$share/g2/a/+", 3, Options{})
	x.Subscribe("$queue/a/b", 4, Options{})
	x.Subscribe("a/+", 5, Options{})
	x.Subscribe("$share/g1/a/b", 6, Options{})
	c := matchAll(x, "a/b")
	want := []string{"$queue|a/b|4:q0", "g1|a/+|1:q1,2:q0", "g1|a/b|6:q0", "g2|a/+|3:q0"}
	if !slices.Equal(c.groups, want) || !slices.Equal(c.subs, []string{"5:q0:id0"}) {
		t.Fatalf("got subs %v groups %v", c.subs, c.groups)
	}
	s := x.Stats()
	if s.Subscriptions != 6 || s.SharedSubscriptions != 5 || s.Filters != 2 {
		t.Fatalf("stats %+v", s)
	}
	// The Group object, and so its cursor, survives membership changes.
	var g1 *Group[int]
	x.MatchFunc([]byte("a/x"), nil, func(g *Group[int]) {
		if g.Name() == "g1" {
			g1 = g
		}
	})
	g1.Cursor.Add(7)
	if !x.Unsubscribe("$share/g1/a/+", 1) || x.Unsubscribe("$share/g1/a/+", 1) {
		t.Fatal("unsubscribe from group")
	}
	x.Subscribe("$share/g1/a/+", 9, Options{})
	x.MatchFunc([]byte("a/x"), nil, func(g *Group[int]) {
		if g.Name() == "g1" && (g != g1 || g.Cursor.Load() != 7 || len(g.Members()) != 2) {
			t.Fatalf("group state lost")
		}
	})
	for _, u := range []struct {
		f string
		k int
	}{{"$share/g1/a/+", 2}, {"$share/g1/a/+", 9}, {"$share/g2/a/+", 3}, {"$queue/a/b", 4}, {"a/+", 5}, {"$share/g1/a/b", 6}} {
		if !x.Unsubscribe(u.f, u.k) {
			t.Fatalf("Unsubscribe(%q, %d) = false", u.f, u.k)
		}
	}
	assertEmpty(t, x)
}

func assertEmpty(t *testing.T, x *Index[int]) {
	t.Helper()
	for i := range x.shards {
		if !x.shards[i].root.empty() {
			t.Fatalf("shard %d not pruned", i)
		}
	}
	if s := x.Stats(); s.Filters != 0 || s.Subscriptions != 0 || s.SharedSubscriptions != 0 {
		t.Fatalf("stats not zero: %+v", s)
	}
}

// TestLargeSets drives children and subscriber sets through the small, big
// and growing forms and back, checking matches along the way.
func TestLargeSets(t *testing.T) {
	x := New[int]()
	const n = 3000
	for i := range n {
		x.Subscribe(fmt.Sprintf("dev/%d/cmd", i), i, Options{QoS: 1})
		x.Subscribe("fan/out", i, Options{SubID: uint32(i + 1)})
	}
	check := func(lo int) {
		t.Helper()
		for _, i := range []int{lo, (lo + n) / 2, n - 1} {
			if c := matchAll(x, fmt.Sprintf("dev/%d/cmd", i)); len(c.subs) != 1 {
				t.Fatalf("dev %d: %v", i, c.subs)
			}
		}
		c := matchAll(x, "fan/out")
		if len(c.subs) != n-lo {
			t.Fatalf("fan-out: got %d want %d", len(c.subs), n-lo)
		}
		seen := map[string]bool{}
		for _, s := range c.subs {
			if seen[s] {
				t.Fatalf("duplicate %s", s)
			}
			seen[s] = true
		}
	}
	check(0)
	for i := range n - 1 {
		if !x.Unsubscribe(fmt.Sprintf("dev/%d/cmd", i), i) || !x.Unsubscribe("fan/out", i) {
			t.Fatalf("unsubscribe %d", i)
		}
		if i%500 == 0 {
			check(i + 1)
		}
	}
	check(n - 1)
	x.Unsubscribe(fmt.Sprintf("dev/%d/cmd", n-1), n-1)
	x.Unsubscribe("fan/out", n-1)
	assertEmpty(t, x)
}

func TestApply(t *testing.T) {
	x := New[int]()
	ops := []Op[int]{
		{Filter: "a/b", Handle: 1},
		{Filter: "#", Handle: 2, Options: Options{QoS: 1}},
		{Filter: "bad/#/x", Handle: 3},
		{Filter: "$share/g/a/+", Handle: 4},
		{Filter: "a/b", Handle: 1, Unsubscribe: true},
		{Filter: "a/b", Handle: 1, Options: Options{QoS: 2}},
		{Filter: "x/y", Handle: 5, Unsubscribe: true},
	}
	x.Apply(ops)
	changed := []bool{true, true, false, true, true, true, false}
	for i := range ops {
		if ops[i].Changed != changed[i] || (ops[i].Err != nil) != (i == 2) {
			t.Fatalf("op %d: changed %v err %v", i, ops[i].Changed, ops[i].Err)
		}
	}
	c := matchAll(x, "a/b")
	if !slices.Equal(c.subs, []string{"1:q2:id0", "2:q1:id0"}) || len(c.groups) != 1 {
		t.Fatalf("got %v %v", c.subs, c.groups)
	}
}

func TestMatchesAggregator(t *testing.T) {
	x := New[int]()
	x.Subscribe("a/+", 1, Options{QoS: 0, SubID: 10})
	x.Subscribe("a/#", 1, Options{QoS: 2, SubID: 11, RetainAsPublished: true})
	x.Subscribe("a/b", 1, Options{QoS: 1})
	x.Subscribe("a/b", 2, Options{QoS: 1, NoLocal: true})
	x.Subscribe("#", 2, Options{QoS: 0, SubID: 7})
	x.Subscribe("$share/g/a/b", 1, Options{})
	var m Matches[int]
	m.Reset()
	x.Match([]byte("a/b"), &m)
	if len(m.Subscribers) != 2 || len(m.Groups) != 1 {
		t.Fatalf("got %+v groups %d", m.Subscribers, len(m.Groups))
	}
	for i, s := range m.Subscribers {
		ids := m.SubscriptionIDs(i, nil)
		slices.Sort(ids)
		switch s.Handle {
		case 1:
			if s.QoS != 2 || !s.RetainAsPublished || !slices.Equal(ids, []uint32{10, 11}) {
				t.Fatalf("subscriber 1: %+v %v", s, ids)
			}
		case 2:
			if s.QoS != 1 || s.RetainAsPublished || !slices.Equal(ids, []uint32{7}) {
				t.Fatalf("subscriber 2: %+v %v", s, ids)
			}
		}
	}
	// Published by 2: its NoLocal subscription is skipped, the other stays.
	m.ResetFor(2)
	x.Match([]byte("a/b"), &m)
	for _, s := range m.Subscribers {
		if s.Handle == 2 && s.QoS != 0 {
			t.Fatalf("NoLocal subscription not skipped: %+v", s)
		}
	}
	// Large results go through the map and are still merged.
	for i := 100; i < 200; i++ {
		x.Subscribe("a/+", i, Options{QoS: 0})
		x.Subscribe("a/b", i, Options{QoS: 1, SubID: uint32(i)})
	}
	m.Reset()
	x.Match([]byte("a/b"), &m)
	if len(m.Subscribers) != 102 {
		t.Fatalf("got %d subscribers", len(m.Subscribers))
	}
	for i, s := range m.Subscribers {
		if s.Handle >= 100 && (s.QoS != 1 || len(m.SubscriptionIDs(i, nil)) != 1) {
			t.Fatalf("not merged: %+v", s)
		}
	}
	m.Reset()
	x.Match([]byte("zz"), &m)
	if len(m.Subscribers) != 1 {
		t.Fatalf("after reset: %+v", m.Subscribers)
	}
}

func TestMatchAllocs(t *testing.T) {
	x := New[int]()
	for i := range 200 {
		x.Subscribe(fmt.Sprintf("dev/%d/+", i), i, Options{SubID: 1})
		x.Subscribe("dev/#", i, Options{})
	}
	x.Subscribe("$share/g/dev/+/cmd", 1, Options{})
	var m Matches[int]
	topic := []byte("dev/7/cmd")
	m.Reset()
	x.Match(topic, &m) // warm up
	if n := testing.AllocsPerRun(100, func() {
		m.Reset()
		x.Match(topic, &m)
	}); n != 0 {
		t.Fatalf("Match with Matches allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		x.MatchFunc(topic, countSub, nil)
	}); n != 0 {
		t.Fatalf("MatchFunc allocates %v times", n)
	}
}

var subCount int

func countSub(int, Options) { subCount++ }

// TestLevelNameLengths covers every inline name size class of newNode and the
// out-of-line one, in one-child and table form.
func TestLevelNameLengths(t *testing.T) {
	x := New[int]()
	for l := range 100 {
		name := strings.Repeat(string(rune('a'+l%26)), l)
		x.Subscribe("n/"+name+"/x", l, Options{})
		x.Subscribe("solo"+strconv.Itoa(l)+"/"+name, l, Options{})
	}
	for l := range 100 {
		name := strings.Repeat(string(rune('a'+l%26)), l)
		if c := matchAll(x, "n/"+name+"/x"); len(c.subs) != 1 || c.subs[0] != strconv.Itoa(l)+":q0:id0" {
			t.Fatalf("length %d: got %v", l, c.subs)
		}
		if c := matchAll(x, "solo"+strconv.Itoa(l)+"/"+name); len(c.subs) != 1 {
			t.Fatalf("solo length %d: got %v", l, c.subs)
		}
		// Same length, different bytes: no match.
		if c := matchAll(x, "n/"+strings.Repeat("Z", l)+"/x"); l > 0 && len(c.subs) != 0 {
			t.Fatalf("length %d: wrong name matched: %v", l, c.subs)
		}
	}
	if got := reflect.TypeFor[node[int]]().Size(); got != 56 {
		t.Fatalf("node[int] is %d bytes; 56 keeps a node with a short name in one cache line", got)
	}
}
