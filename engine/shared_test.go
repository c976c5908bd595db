package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// member is one subscriber of a shared-subscription test.
type member struct {
	name string
	c    *paho.Client
	r    *received
}

func members(t *testing.T, addr string, prefix string, k int, filter string) []*member {
	t.Helper()
	ms := make([]*member, k)
	for i := range ms {
		m := &member{name: fmt.Sprintf("%s%d", prefix, i), r: newReceived()}
		m.c, _ = v5(t, addr, &paho.Connect{ClientID: m.name, CleanStart: true}, m.r)
		sub5(t, m.c, filter, 1)
		ms[i] = m
	}
	return ms
}

// collect gathers exactly total messages across ms (failing after 5s without progress),
// then checks for 200ms that no more arrive. It returns the payloads each member got.
func collect(t *testing.T, ms []*member, total int) [][]string {
	t.Helper()
	got := make([][]string, len(ms))
	count := 0
	deadline := time.Now().Add(5 * time.Second)
	for count < total {
		progressed := false
		for i, m := range ms {
			select {
			case p := <-m.r.ch:
				got[i] = append(got[i], string(p.Payload))
				count++
				progressed = true
			default:
			}
		}
		switch {
		case progressed:
			deadline = time.Now().Add(5 * time.Second)
		case time.Now().After(deadline):
			t.Fatalf("got %d of %d messages: %v", count, total, got)
		default:
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for i, m := range ms {
		select {
		case p := <-m.r.ch:
			t.Fatalf("member %d got an extra message %q after %v", i, p.Payload, got)
		default:
		}
	}
	return got
}

// exactlyOnce checks that the payloads 0..total-1 were each received once across the group.
func exactlyOnce(t *testing.T, got [][]string, total int) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		for _, p := range g {
			seen[p]++
		}
	}
	for i := 0; i < total; i++ {
		if k := seen[fmt.Sprint(i)]; k != 1 {
			t.Fatalf("message %d delivered %d times to the group: %v", i, k, got)
		}
	}
}

func TestSharedOneMemberPerGroupAndOrdinarySubscribers(t *testing.T) {
	t.Parallel()
	_, addr := testNode(t, nil)
	g := members(t, addr, "g", 3, "$share/g/sh/+")
	h := members(t, addr, "h", 2, "$share/h/sh/#")
	q := members(t, addr, "q", 2, "$queue/sh/+")
	plain := members(t, addr, "plain", 1, "sh/+")
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	const total = 30
	for i := 0; i < total; i++ {
		pub5(t, pub, "sh/x", byte(i%2), fmt.Sprint(i))
	}
	exactlyOnce(t, collect(t, g, total), total)
	exactlyOnce(t, collect(t, h, total), total)
	exactlyOnce(t, collect(t, q, total), total)
	exactlyOnce(t, collect(t, plain, total), total)
}

func TestSharedStrategies(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, strategy string) (*Node, string, []*member, *paho.Client) {
		n, addr := testNode(t, func(c *Config) { c.SharedStrategy = strategy })
		ms := members(t, addr, "m", 3, "$share/g/st/#")
		pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
		return n, addr, ms, pub
	}
	t.Run("round_robin", func(t *testing.T) {
		t.Parallel()
		_, _, ms, pub := run(t, "round_robin")
		const total = 30
		for i := 0; i < total; i++ {
			pub5(t, pub, "st/a", 1, fmt.Sprint(i))
		}
		got := collect(t, ms, total)
		exactlyOnce(t, got, total)
		for i, g := range got {
			if len(g) != total/len(ms) {
				t.Fatalf("round robin: member %d got %d of %d messages: %v", i, len(g), total, got)
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		t.Parallel()
		_, _, ms, pub := run(t, "random")
		const total = 60
		for i := 0; i < total; i++ {
			pub5(t, pub, "st/a", 0, fmt.Sprint(i))
		}
		got := collect(t, ms, total)
		exactlyOnce(t, got, total)
		for i, g := range got {
			// Each member gets a message with probability 1/3: missing out on all 60 has
			// probability (2/3)^60 < 1e-10.
			if len(g) == 0 {
				t.Fatalf("random: member %d got nothing: %v", i, got)
			}
		}
	})
	t.Run("sticky", func(t *testing.T) {
		t.Parallel()
		n, _, ms, pub := run(t, "sticky")
		const total = 20
		for i := 0; i < total; i++ {
			pub5(t, pub, "st/a", 1, fmt.Sprint(i))
		}
		got := collect(t, ms, total)
		exactlyOnce(t, got, total)
		first := -1
		for i, g := range got {
			if len(g) == total {
				first = i
			} else if len(g) != 0 {
				t.Fatalf("sticky: messages spread over members: %v", got)
			}
		}
		// The chosen member leaves (clean session: its subscription goes): another member
		// takes every message.
		if err := ms[first].c.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		waitConns(t, n, 3)
		rest := append(append([]*member{}, ms[:first]...), ms[first+1:]...)
		for i := 0; i < total; i++ {
			pub5(t, pub, "st/a", 1, fmt.Sprint(i))
		}
		got = collect(t, rest, total)
		exactlyOnce(t, got, total)
		if len(got[0]) != total && len(got[1]) != total {
			t.Fatalf("sticky after the first member left: messages spread: %v", got)
		}
	})
	t.Run("hash", func(t *testing.T) {
		t.Parallel()
		_, addr, ms, _ := run(t, "hash")
		const publishers, each = 6, 10
		for p := 0; p < publishers; p++ {
			pub, _ := v5(t, addr, &paho.Connect{ClientID: fmt.Sprintf("publisher-%d", p), CleanStart: true}, nil)
			for i := 0; i < each; i++ {
				pub5(t, pub, "st/a", byte(i%2), fmt.Sprint(p*each+i))
			}
		}
		got := collect(t, ms, publishers*each)
		exactlyOnce(t, got, publishers*each)
		// Same publisher, same member.
		owner := map[int]int{}
		for i, g := range got {
			for _, s := range g {
				var k int
				fmt.Sscan(s, &k)
				p := k / each
				if o, ok := owner[p]; ok && o != i {
					t.Fatalf("hash: messages of publisher %d went to members %d and %d: %v", p, o, i, got)
				}
				owner[p] = i
			}
		}
		// Different publishers are spread (deterministic for these client ids).
		used := map[int]bool{}
		for _, o := range owner {
			used[o] = true
		}
		if len(used) < 2 {
			t.Fatalf("hash: every publisher went to one member: %v", got)
		}
	})
	t.Run("hash_topic", func(t *testing.T) {
		t.Parallel()
		_, _, ms, pub := run(t, "hash_topic")
		const topics, each = 8, 5
		for k := 0; k < topics; k++ {
			for i := 0; i < each; i++ {
				pub5(t, pub, fmt.Sprintf("st/%d", k), 1, fmt.Sprint(k*each+i))
			}
		}
		got := collect(t, ms, topics*each)
		exactlyOnce(t, got, topics*each)
		// Same topic, same member; different topics spread.
		owner := map[int]int{}
		for i, g := range got {
			for _, s := range g {
				var n int
				fmt.Sscan(s, &n)
				if o, ok := owner[n/each]; ok && o != i {
					t.Fatalf("hash_topic: topic %d went to members %d and %d: %v", n/each, o, i, got)
				}
				owner[n/each] = i
			}
		}
		used := map[int]bool{}
		for _, o := range owner {
			used[o] = true
		}
		if len(used) < 2 {
			t.Fatalf("hash_topic: every topic went to one member: %v", got)
		}
	})
}
