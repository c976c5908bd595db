package trie

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// chooser turns a byte string into a sequence of choices, so the property
// test (random bytes) and the fuzz target (fuzzer bytes) share one scenario.
type chooser struct {
	data []byte
	pos  int
}

func (c *chooser) done() bool { return c.pos >= len(c.data) }

func (c *chooser) next(n int) int {
	if c.done() {
		return 0
	}
	b := c.data[c.pos]
	c.pos++
	return int(b) % n
}

// Level names: several '$' names, the empty level, and enough names for a
// node to outgrow its small child set.
var levelNames = []string{"a", "b", "", "$SYS", "$x", "c", "d", "e", "f", "g", "h", "i", "j", "k"}

func (c *chooser) topic() string {
	n := 1 + c.next(4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = levelNames[c.next(len(levelNames))]
	}
	return strings.Join(parts, "/")
}

func (c *chooser) filter() string {
	n := 1 + c.next(4)
	var parts []string
	for i := 0; i < n; i++ {
		switch r := c.next(20); {
		case r < 3:
			parts = append(parts, "+")
		case r < 5:
			parts = append(parts, "#")
			i = n
		default:
			parts = append(parts, levelNames[c.next(len(levelNames))])
		}
	}
	return strings.Join(parts, "/")
}

type modelKey struct {
	group, filter string
	handle        int
}

// model is the brute-force reference: every subscription in a map.
type model map[modelKey]Options

func (m model) expect(topic string) (subs, groups []string) {
	members := map[string][]string{}
	for k, o := range m {
		if !bruteMatch(k.filter, topic) {
			continue
		}
		if k.group == "" {
			subs = append(subs, fmt.Sprintf("%d:q%d:id%d", k.handle, o.QoS, o.SubID))
			continue
		}
		g := k.group + "|" + k.filter
		members[g] = append(members[g], fmt.Sprintf("%d:q%d", k.handle, o.QoS))
	}
	for g, ms := range members {
		slices.Sort(ms)
		groups = append(groups, g+"|"+strings.Join(ms, ","))
	}
	slices.Sort(subs)
	slices.Sort(groups)
	return subs, groups
}

func (m model) sortedKeys() []modelKey {
	keys := make([]modelKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b modelKey) int {
		if c := strings.Compare(a.group, b.group); c != 0 {
			return c
		}
		if c := strings.Compare(a.filter, b.filter); c != 0 {
			return c
		}
		return a.handle - b.handle
	})
	return keys
}

func fullFilter(k modelKey) string {
	switch k.group {
	case "":
		return k.filter
	case "$queue":
		return "$queue/" + k.filter
	}
	return "$share/" + k.group + "/" + k.filter
}

func checkTopic(t testing.TB, x *Index[int], m model, topic string) {
	t.Helper()
	got := matchAll(x, topic)
	wantSubs, wantGroups := m.expect(topic)
	if !slices.Equal(got.subs, wantSubs) || !slices.Equal(got.groups, wantGroups) {
		t.Fatalf("topic %q:\n got subs %v groups %v\nwant subs %v groups %v", topic, got.subs, got.groups, wantSubs, wantGroups)
	}
}

// runScenario applies the subscribes, unsubscribes and checks encoded in data
// to an index and to the model, comparing every match.
func runScenario(t testing.TB, data []byte) {
	c := &chooser{data: data}
	x := New[int]()
	m := model{}
	for !c.done() {
		switch op := c.next(10); {
		case op < 6:
			k := modelKey{filter: c.filter(), handle: c.next(24)}
			switch c.next(8) {
			case 0:
				k.group = "g1"
			case 1:
				k.group = "g2"
			case 2:
				k.group = "$queue"
			}
			o := Options{QoS: uint8(c.next(3)), SubID: uint32(c.next(3))}
			if k.filter == "" { // [MQTT-4.7.3-1]
				if _, err := x.Subscribe(fullFilter(k), k.handle, Options{}); err != ErrInvalidFilter {
					t.Fatalf("empty filter accepted: %v", err)
				}
				continue
			}
			_, had := m[k]
			added, err := x.Subscribe(fullFilter(k), k.handle, o)
			if err != nil || added == had {
				t.Fatalf("Subscribe(%q, %d) = %v, %v; already there: %v", fullFilter(k), k.handle, added, err, had)
			}
			m[k] = o
		case op < 8:
			if len(m) == 0 {
				continue
			}
			keys := m.sortedKeys()
			k := keys[c.next(len(keys))]
			if c.next(4) == 0 {
				k.handle = 99 // absent handle: nothing removed
			}
			_, had := m[k]
			if got := x.Unsubscribe(fullFilter(k), k.handle); got != had {
				t.Fatalf("Unsubscribe(%q, %d) = %v, want %v", fullFilter(k), k.handle, got, had)
			}
			delete(m, k)
		default:
			checkTopic(t, x, m, c.topic())
		}
	}
	// Every filter in the model, with its wildcards replaced, as a topic.
	for k := range m {
		checkTopic(t, x, m, strings.NewReplacer("+", "b", "#", "a/c").Replace(k.filter))
	}
	checkStats(t, x, m)
	for _, k := range m.sortedKeys() {
		if !x.Unsubscribe(fullFilter(k), k.handle) {
			t.Fatalf("final Unsubscribe(%q, %d) failed", fullFilter(k), k.handle)
		}
	}
	assertEmptyTB(t, x)
}

func checkStats(t testing.TB, x *Index[int], m model) {
	t.Helper()
	filters := map[string]bool{}
	var shared int64
	for k := range m {
		filters[k.filter] = true
		if k.group != "" {
			shared++
		}
	}
	s := x.Stats()
	if s.Subscriptions != int64(len(m)) || s.SharedSubscriptions != shared || s.Filters != int64(len(filters)) {
		t.Fatalf("stats %+v, want %d subscriptions, %d shared, %d filters", s, len(m), shared, len(filters))
	}
}

func assertEmptyTB(t testing.TB, x *Index[int]) {
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

func TestMatchProperty(t *testing.T) {
	rounds := 120
	if testing.Short() {
		rounds = 30
	}
	for seed := range rounds {
		r := rand.New(rand.NewPCG(uint64(seed), 42))
		data := make([]byte, 1000+r.IntN(3000))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		runScenario(t, data)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 3, 1, 2, 9, 1, 0})
	f.Add([]byte("subscribe a/b then match it, with some $SYS and +/# in between"))
	r := rand.New(rand.NewPCG(7, 7))
	for range 8 {
		data := make([]byte, 400)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 20000 {
			return
		}
		runScenario(t, data)
	})
}
