package trie

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
)

func listFilters(x *Index[int]) map[string]int {
	got := map[string]int{}
	x.Filters(func(f string, n int) bool {
		if _, dup := got[f]; dup {
			got[f] = -1000 // listed twice
		}
		got[f] += n
		return true
	})
	return got
}

func TestFilters(t *testing.T) {
	x := New[int]()
	if got := listFilters(x); len(got) != 0 {
		t.Fatalf("empty index lists %v", got)
	}
	want := map[string]int{}
	f := func(filter string, handle int) {
		t.Helper()
		if _, err := x.Subscribe(filter, handle, Options{}); err != nil {
			t.Fatalf("subscribe %q: %v", filter, err)
		}
	}
	for _, s := range []string{"a", "a/b", "a/+", "a/#", "#", "+", "+/+", "/a", "a//b", "", "$SYS/broker/uptime", "a/b/c/d/e"} {
		if s == "" {
			continue
		}
		f(s, 1)
		want[s] = 1
	}
	f("a/b", 2)
	f("a/b", 3)
	want["a/b"] = 3
	f("$share/g1/a/b", 4)
	f("$share/g2/a/b", 4)
	f("$queue/a/b", 5)
	want["a/b"] += 3
	f("$share/g/only/shared", 6)
	f("$share/g/only/shared", 7)
	want["only/shared"] = 2
	// A level with many children (a table) and a filter with many subscribers.
	for i := range 100 {
		f(fmt.Sprintf("dev/%d/cmd", i), i)
		want[fmt.Sprintf("dev/%d/cmd", i)] = 1
		f("fan", i)
	}
	want["fan"] = 100
	if got := listFilters(x); !maps.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if s := x.Stats(); s.Filters != int64(len(want)) {
		t.Fatalf("Stats.Filters %d, listed %d", s.Filters, len(want))
	}

	// Stopping early.
	calls := 0
	x.Filters(func(string, int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Fatalf("fn called %d times after asking to stop at 3", calls)
	}

	// Unsubscribing everything lists nothing, and the index is pruned.
	x.Unsubscribe("$share/g/only/shared", 6)
	want["only/shared"] = 1
	for i := range 99 {
		x.Unsubscribe(fmt.Sprintf("dev/%d/cmd", i), i)
		delete(want, fmt.Sprintf("dev/%d/cmd", i))
	}
	if got := listFilters(x); !maps.Equal(got, want) {
		t.Fatalf("after unsubscribes: got %v\nwant %v", got, want)
	}
}

// TestFiltersConcurrent lists filters while writers churn others: every
// stable filter is listed exactly once with its count, and listing never
// waits for writers. (A churned filter may be listed twice: see Filters.)
func TestFiltersConcurrent(t *testing.T) {
	x := New[int]()
	const stable = 200
	for i := range stable {
		x.Subscribe(fmt.Sprintf("s/%d/x", i), i, Options{})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	x.Subscribe("d/stable/x", -1, Options{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Siblings of the stable filters come and go in waves of 300, so
			// the "s" level's table grows, fills with tombstones and shrinks,
			// and the "d" level switches between one child and a table.
			for n := 0; !stop.Load(); n++ {
				f := fmt.Sprintf("s/c%d-%d/x", w, n%300)
				g := fmt.Sprintf("d/c%d-%d/x", w, n%7)
				if (n/300)%2 == 0 {
					x.Subscribe(f, w, Options{})
				} else {
					x.Unsubscribe(f, w)
				}
				if (n/7)%2 == 0 {
					x.Subscribe(g, w, Options{})
				} else {
					x.Unsubscribe(g, w)
				}
			}
		}()
	}
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	for r := range rounds {
		got := listFilters(x)
		if got["d/stable/x"] != 1 {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("round %d: d/stable/x listed with %d", r, got["d/stable/x"])
		}
		for i := range stable {
			if n := got[fmt.Sprintf("s/%d/x", i)]; n != 1 {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("round %d: stable filter s/%d/x listed with %d", r, i, n)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
}
