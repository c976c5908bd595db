package trie

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// countVisitor counts reports per handle for the concurrency test.
type countVisitor struct {
	seen   map[int]int
	groups int
}

func (c *countVisitor) OnSubscriber(k int, _ Options) { c.seen[k]++ }
func (c *countVisitor) OnGroup(g *Group[int]) {
	c.groups++
	if len(g.Members()) == 0 {
		c.seen[-1]++ // a reported group must have had members when published
	}
}

// TestConcurrentMatch runs subscribes, unsubscribes (single and batched) and
// matches at the same time. Subscriptions no writer touches must be reported
// exactly once by every match; churning ones at most once.
func TestConcurrentMatch(t *testing.T) {
	x := New[int]()
	const stableFan, stableDev = 100, 300
	for i := range stableFan {
		x.Subscribe("big/fan", i, Options{})
		x.Subscribe("s/+/x", i, Options{})
	}
	for i := range stableDev {
		x.Subscribe(fmt.Sprintf("dev/%d/cmd", i), i, Options{})
	}
	iterations := 3000
	if testing.Short() {
		iterations = 500
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &countVisitor{seen: map[int]int{}}
			for n := 0; !stop.Load(); n++ {
				clear(c.seen)
				x.Match([]byte("big/fan"), c)
				for k, v := range c.seen {
					if (k < stableFan && v != 1) || v > 1 || k < 0 {
						errs <- fmt.Errorf("big/fan: handle %d reported %d times", k, v)
						return
					}
				}
				if len(c.seen) < stableFan {
					errs <- fmt.Errorf("big/fan: only %d handles", len(c.seen))
					return
				}
				clear(c.seen)
				i := (n*7 + r) % stableDev
				x.Match(fmt.Appendf(nil, "dev/%d/cmd", i), c)
				if len(c.seen) != 1 || c.seen[i] != 1 {
					errs <- fmt.Errorf("dev/%d/cmd: %v", i, c.seen)
					return
				}
				clear(c.seen)
				x.Match([]byte("s/a/x"), c)
				for k, v := range c.seen {
					if v != 1 || k < 0 || k >= stableFan {
						errs <- fmt.Errorf("s/a/x: handle %d reported %d times", k, v)
						return
					}
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			base := 1000 + w*100000
			var ops []Op[int]
			for n := range iterations {
				h := base + n
				dev := fmt.Sprintf("dev/%d/cmd", stableDev+(n%500)+w*1000)
				if w == 0 {
					x.Subscribe("big/fan", h, Options{QoS: 1})
					x.Subscribe(dev, h, Options{})
					x.Subscribe("$share/g/s/+/x", h, Options{})
					if n >= 200 {
						old := h - 200
						x.Unsubscribe("big/fan", old)
						x.Unsubscribe(fmt.Sprintf("dev/%d/cmd", stableDev+((n-200)%500)+w*1000), old)
						x.Unsubscribe("$share/g/s/+/x", old)
					}
					continue
				}
				ops = append(ops[:0],
					Op[int]{Filter: "big/fan", Handle: h},
					Op[int]{Filter: dev, Handle: h},
					Op[int]{Filter: "$queue/s/+/x", Handle: h})
				if n >= 200 {
					old := h - 200
					ops = append(ops,
						Op[int]{Filter: "big/fan", Handle: old, Unsubscribe: true},
						Op[int]{Filter: fmt.Sprintf("dev/%d/cmd", stableDev+((n-200)%500)+w*1000), Handle: old, Unsubscribe: true},
						Op[int]{Filter: "$queue/s/+/x", Handle: old, Unsubscribe: true})
				}
				x.Apply(ops)
				for _, op := range ops {
					if !op.Changed || op.Err != nil {
						errs <- fmt.Errorf("batch op %+v failed", op)
						return
					}
				}
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Each writer leaves its last 200 handles on 3 filters each.
	s := x.Stats()
	if want := int64(2*stableFan + stableDev + 2*200*3); s.Subscriptions != want {
		t.Fatalf("subscriptions %d, want %d", s.Subscriptions, want)
	}
	c := &countVisitor{seen: map[int]int{}}
	x.Match([]byte("big/fan"), c)
	if len(c.seen) != stableFan+400 {
		t.Fatalf("big/fan has %d subscribers", len(c.seen))
	}
}

// TestConcurrentFormChanges drives a level between its one-child and table
// forms and a filter's subscribers between the inline and hash-set forms
// while matches run: the subscription no writer touches must be reported
// exactly once by every match.
func TestConcurrentFormChanges(t *testing.T) {
	x := New[int]()
	x.Subscribe("one/stable", 0, Options{}) // the level "one" alternates: 1 child, a table, 1 child
	x.Subscribe("fan/x", 0, Options{})      // 1 stable subscriber; others cross smallMembers both ways
	iterations := 4000
	if testing.Short() {
		iterations = 1000
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &countVisitor{seen: map[int]int{}}
			for !stop.Load() {
				for _, topic := range []string{"one/stable", "fan/x"} {
					clear(c.seen)
					x.Match([]byte(topic), c)
					if c.seen[0] != 1 {
						errs <- fmt.Errorf("%s: stable subscriber reported %d times", topic, c.seen[0])
						return
					}
					for k, v := range c.seen {
						if v != 1 {
							errs <- fmt.Errorf("%s: handle %d reported %d times", topic, k, v)
							return
						}
					}
				}
			}
		}()
	}
	for n := range iterations {
		sib := fmt.Sprintf("one/c%d", n%5)
		h := 1 + n%40
		if (n/5)%2 == 0 {
			x.Subscribe(sib, 1, Options{})
		} else {
			x.Unsubscribe(sib, 1)
		}
		if (n/40)%2 == 0 {
			x.Subscribe("fan/x", h, Options{})
		} else {
			x.Unsubscribe("fan/x", h)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
