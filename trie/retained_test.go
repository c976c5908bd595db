package trie

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func retainedMatch(r *Retained[string], filter string) []string {
	var got []string
	if err := r.Match(filter, func(topic, v string) bool {
		if topic != v {
			panic("value does not belong to topic " + topic)
		}
		got = append(got, topic)
		return true
	}); err != nil {
		panic(err)
	}
	slices.Sort(got)
	return got
}

func TestRetainedBasics(t *testing.T) {
	r := NewRetained[string](0, 0)
	for _, topic := range []string{"a", "a/b", "a/b/c", "a//c", "/a", "$SYS/x", "$SYS/x/y", "b/$x"} {
		if err := r.Set(topic, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	f := func(filter string, want ...string) {
		t.Helper()
		if got := retainedMatch(r, filter); !slices.Equal(got, want) {
			t.Fatalf("Match(%q) = %q, want %q", filter, got, want)
		}
	}
	f("a", "a")
	f("a/#", "a", "a//c", "a/b", "a/b/c")
	f("a/+", "a/b")
	f("a/+/c", "a//c", "a/b/c")
	f("+", "a")
	f("+/+", "/a", "a/b", "b/$x")
	f("#", "/a", "a", "a//c", "a/b", "a/b/c", "b/$x")
	f("$SYS/#", "$SYS/x", "$SYS/x/y")
	f("$SYS/+", "$SYS/x")
	f("+/x")
	f("x/#")
	if err := r.Match("a/#/b", func(string, string) bool { return true }); err != ErrInvalidFilter {
		t.Fatalf("bad filter: %v", err)
	}
	if r.Len() != 8 {
		t.Fatalf("Len %d", r.Len())
	}
	// Replace, then delete with an empty payload.
	r.Set("a/b", "a/b", 5)
	if v, ok := r.Get("a/b"); !ok || v != "a/b" || r.Len() != 8 {
		t.Fatal("replace")
	}
	if err := r.Set("a/b", "", 0); err != nil || r.Len() != 7 {
		t.Fatalf("delete by empty payload: %v, len %d", err, r.Len())
	}
	f("a/+")
	if r.Delete("a/b") || r.Delete("zz") || !r.Delete("a/b/c") {
		t.Fatal("Delete results")
	}
	f("a/#", "a", "a//c")
	// Stop early.
	n := 0
	r.Match("#", func(string, string) bool { n++; return false })
	if n != 1 {
		t.Fatalf("callback called %d times after stop", n)
	}
	var all []string
	r.Range(func(topic, _ string) bool { all = append(all, topic); return true })
	if len(all) != r.Len() {
		t.Fatalf("Range saw %d of %d", len(all), r.Len())
	}
	for _, topic := range all {
		r.Delete(topic)
	}
	for i := range r.shards {
		if root := &r.shards[i].root; len(root.kids) != 0 || root.index != nil {
			t.Fatalf("shard %d not pruned", i)
		}
	}
	for _, bad := range []string{"", "a/+", "#", strings.Repeat("a/", MaxLevels) + "a"} {
		if err := r.Set(bad, "", 1); err != ErrInvalidTopic {
			t.Fatalf("Set(%q) = %v", bad, err)
		}
	}
}

func TestRetainedLimits(t *testing.T) {
	r := NewRetained[string](2, 10)
	if err := r.Set("a", "a", 11); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("payload limit: %v", err)
	}
	r.Set("a", "a", 10)
	r.Set("b", "b", 10)
	if err := r.Set("c", "c", 1); !errors.Is(err, ErrRetainedFull) {
		t.Fatalf("count limit: %v", err)
	}
	if err := r.Set("a", "a", 3); err != nil {
		t.Fatalf("replacing when full: %v", err)
	}
	r.Delete("b")
	if err := r.Set("c", "c", 1); err != nil || r.Len() != 2 {
		t.Fatalf("after delete: %v %d", err, r.Len())
	}
	if _, ok := r.Get("c/"); ok {
		t.Fatal("phantom node")
	}
}

func TestRetainedProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		r := NewRetained[string](0, 0)
		c := &chooser{data: make([]byte, 3000)}
		for i := range c.data {
			c.data[i] = byte(rng.Uint32())
		}
		have := map[string]bool{}
		for !c.done() {
			switch c.next(4) {
			case 0, 1:
				topic := c.topic()
				if topic == "" {
					continue
				}
				if err := r.Set(topic, topic, 1); err != nil {
					t.Fatal(err)
				}
				have[topic] = true
			case 2:
				topic := c.topic()
				if r.Delete(topic) != have[topic] {
					t.Fatalf("round %d: Delete(%q)", round, topic)
				}
				delete(have, topic)
			default:
				filter := c.filter()
				if filter == "" {
					continue
				}
				var want []string
				for topic := range have {
					if bruteMatch(filter, topic) {
						want = append(want, topic)
					}
				}
				slices.Sort(want)
				if got := retainedMatch(r, filter); !slices.Equal(got, want) {
					t.Fatalf("round %d: Match(%q) = %q, want %q", round, filter, got, want)
				}
			}
		}
		if r.Len() != len(have) {
			t.Fatalf("Len %d want %d", r.Len(), len(have))
		}
	}
}

func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[string](0, 0)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				topic := string(rune('a'+w)) + "/" + string(rune('a'+i%26))
				switch i % 3 {
				case 0, 1:
					r.Set(topic, topic, 1)
				default:
					r.Delete(topic)
				}
				r.Match("+/a", func(string, string) bool { return true })
			}
		}()
	}
	wg.Wait()
	n := 0
	r.Range(func(string, string) bool { n++; return true })
	if n != r.Len() {
		t.Fatalf("Range %d, Len %d", n, r.Len())
	}
}
