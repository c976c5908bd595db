package trie

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cursorNames has more names than a node scans linearly, so that nodes switch to their map
// and removed children pile up and get compacted.
var cursorNames = func() []string {
	names := []string{"", "$SYS", "$x"}
	for i := range 37 {
		names = append(names, "n"+strconv.Itoa(i))
	}
	return names
}()

func randTopic(rng *rand.Rand) string {
	parts := make([]string, 1+rng.IntN(3))
	for i := range parts {
		parts[i] = cursorNames[rng.IntN(len(cursorNames))]
	}
	if t := strings.Join(parts, "/"); t != "" {
		return t
	}
	return "/"
}

func randFilter(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	var parts []string
	for i := 0; i < n; i++ {
		switch r := rng.IntN(10); {
		case r < 3:
			parts = append(parts, "+")
		case r < 4:
			parts = append(parts, "#")
			i = n
		default:
			parts = append(parts, cursorNames[rng.IntN(len(cursorNames))])
		}
	}
	if f := strings.Join(parts, "/"); f != "" {
		return f
	}
	return "#"
}

// cursorAll walks filter with batches of size batch.
func cursorAll(c *RetainedCursor[string], r *Retained[string], filter string, batch int) []string {
	if err := c.Start(r, filter); err != nil {
		panic(err)
	}
	var got []string
	buf := make([]string, 0, batch)
	for !c.Done() {
		b := c.Next(buf[:0], batch)
		if len(b) > batch {
			panic("batch too large")
		}
		got = append(got, b...)
	}
	if more := c.Next(buf[:0], batch); len(more) != 0 {
		panic("values after Done")
	}
	return got
}

func retainedValues(r *Retained[string], filter string) []string {
	var got []string
	r.Match(filter, func(topic, v string) bool { got = append(got, v); return true })
	return got
}

// TestRetainedCursorProperty checks the cursor against Match (same values in the same order)
// and Match against brute force, with every batch size, over random sets and deletes.
func TestRetainedCursorProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var c RetainedCursor[string]
	for round := range 30 {
		r := NewRetained[string](0, 0)
		have := map[string]bool{}
		for range 3000 {
			switch rng.IntN(5) {
			case 0, 1:
				topic := randTopic(rng)
				r.Set(topic, topic, 1)
				have[topic] = true
			case 2, 3:
				topic := randTopic(rng)
				r.Delete(topic)
				delete(have, topic)
			default:
				filter := randFilter(rng)
				var want []string
				for topic := range have {
					if bruteMatch(filter, topic) {
						want = append(want, topic)
					}
				}
				slices.Sort(want)
				got := retainedValues(r, filter)
				if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, want) {
					t.Fatalf("round %d: Match(%q) = %q, want %q", round, filter, sorted, want)
				}
				batch := 1 + rng.IntN(8)
				if rng.IntN(4) == 0 {
					batch = 1000
				}
				if cur := cursorAll(&c, r, filter, batch); !slices.Equal(cur, got) {
					t.Fatalf("round %d: cursor(%q, batch %d) = %q, Match = %q", round, filter, batch, cur, got)
				}
			}
		}
	}
	c.Reset()
}

// TestRetainedCursorChangesBetweenBatches changes the index between every two batches: a
// message there before the walk and never touched is returned exactly once, and no message
// is returned twice or unmatched. Values are "topic|version", distinct per Set.
func TestRetainedCursorChangesBetweenBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var c RetainedCursor[string]
	version := 0
	set := func(r *Retained[string], topic string) {
		version++
		r.Set(topic, topic+"|"+strconv.Itoa(version), 1)
	}
	for round := range 300 {
		r := NewRetained[string](0, 0)
		for range 400 {
			set(r, randTopic(rng))
		}
		filter := randFilter(rng)
		// Churn sets only topics under "n0"; the others may only be deleted.
		before := map[string]string{}
		r.Range(func(topic, v string) bool {
			if !strings.HasPrefix(topic, "n0/") && topic != "n0" && bruteMatch(filter, topic) {
				before[topic] = v
			}
			return true
		})
		if err := c.Start(r, filter); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		buf := make([]string, 0, 3)
		for !c.Done() {
			for _, v := range c.Next(buf[:0], 1+rng.IntN(3)) {
				seen[v]++
				if topic, _, _ := strings.Cut(v, "|"); !bruteMatch(filter, topic) {
					t.Fatalf("round %d: %q returned for %q", round, v, filter)
				}
			}
			for range 1 + rng.IntN(20) {
				topic := "n0/" + randTopic(rng)
				if rng.IntN(2) == 0 {
					set(r, topic)
				} else {
					r.Delete(topic)
				}
				if rng.IntN(3) == 0 {
					r.Delete(randTopic(rng)) // may hit a topic of before: it may then be missing
				}
			}
		}
		for v, n := range seen {
			if n != 1 {
				t.Fatalf("round %d: %q returned %d times", round, v, n)
			}
		}
		for topic, v := range before {
			if _, still := r.Get(topic); still && seen[v] != 1 {
				t.Fatalf("round %d: %q (there throughout) not returned for %q", round, v, filter)
			}
		}
	}
}

// TestRetainedCursorConcurrent walks while other goroutines set and delete (for -race):
// every message set before the walks and never touched is returned exactly once.
func TestRetainedCursorConcurrent(t *testing.T) {
	r := NewRetained[string](0, 0)
	for i := range 2000 {
		topic := "s/" + strconv.Itoa(i%40) + "/" + strconv.Itoa(i)
		r.Set(topic, topic, 1)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				topic := "s/" + strconv.Itoa(i%40) + "/churn" + strconv.Itoa(w*100+i%100)
				if i%2 == 0 {
					r.Set(topic, topic, 1)
				} else {
					r.Delete(topic)
				}
			}
		})
	}
	for _, filter := range []string{"#", "s/#", "s/+/+", "+/7/+"} {
		for range 5 {
			var c RetainedCursor[string]
			seen := map[string]int{}
			buf := make([]string, 0, 16)
			if err := c.Start(r, filter); err != nil {
				t.Fatal(err)
			}
			for !c.Done() {
				for _, v := range c.Next(buf[:0], 16) {
					seen[v]++
				}
			}
			want := 0
			for i := range 2000 {
				topic := "s/" + strconv.Itoa(i%40) + "/" + strconv.Itoa(i)
				if bruteMatch(filter, topic) {
					want++
					if seen[topic] != 1 {
						t.Fatalf("%q: %q returned %d times", filter, topic, seen[topic])
					}
				}
			}
			if want == 0 {
				t.Fatalf("%q matches no stable topic: the test proves nothing", filter)
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestRetainedCursorHoldsNoLockBetweenBatches sets a message in the shard being walked
// between two batches: it must not wait for the walk to end.
func TestRetainedCursorHoldsNoLockBetweenBatches(t *testing.T) {
	r := NewRetained[int](0, 0)
	for i := range 100 {
		r.Set("a/"+strconv.Itoa(i), i, 1)
	}
	var c RetainedCursor[int]
	if err := c.Start(r, "a/#"); err != nil {
		t.Fatal(err)
	}
	if got := c.Next(nil, 1); len(got) != 1 {
		t.Fatalf("first batch %v", got)
	}
	done := make(chan error, 1)
	go func() { done <- r.Set("a/new", 1, 1) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Set waited for the cursor between batches")
	}
	n := 1
	for !c.Done() {
		n += len(c.Next(nil, 10))
	}
	if n < 100 {
		t.Fatalf("walk returned %d of at least 100", n)
	}
}

func TestRetainedCursorInvalid(t *testing.T) {
	r := NewRetained[int](0, 0)
	r.Set("a", 1, 1)
	var c RetainedCursor[int]
	if err := c.Start(r, "a/#/b"); err != ErrInvalidFilter {
		t.Fatalf("Start = %v", err)
	}
	if !c.Done() || len(c.Next(nil, 5)) != 0 {
		t.Fatal("an invalid filter returned values")
	}
}

func TestRetainedCursorAllocs(t *testing.T) {
	r := NewRetained[int](0, 0)
	for i := range 5000 {
		r.Set("x/"+strconv.Itoa(i%50)+"/"+strconv.Itoa(i), i, 1)
	}
	var c RetainedCursor[int]
	buf := make([]int, 0, 64)
	walk := func() int {
		n := 0
		c.Start(r, "x/+/#")
		for !c.Done() {
			n += len(c.Next(buf[:0], cap(buf)))
		}
		c.Reset()
		return n
	}
	if n := walk(); n != 5000 {
		t.Fatalf("walk returned %d, want 5000", n)
	}
	if a := testing.AllocsPerRun(20, func() { walk() }); a != 0 {
		t.Fatalf("%v allocations per walk, want 0", a)
	}
}
