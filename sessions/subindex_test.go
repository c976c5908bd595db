package sessions

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/emqgo/emqgo/trie"
)

// TestSubscriptionIndex checks the filter index against a plain map through random
// subscribes, replacements and unsubscribes, below and above subIndexMin, and that Subs keeps
// the order the subscriptions were made in.
func TestSubscriptionIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := New("c", 0)
	want := map[string]uint8{}
	var order []string
	for step := range 20000 {
		f := "f/" + strconv.Itoa(rng.IntN(64))
		switch rng.IntN(3) {
		case 0, 1:
			q := uint8(rng.IntN(3))
			_, had := want[f]
			if existed := s.Subscribe(f, trie.Options{QoS: q}); existed != had {
				t.Fatalf("step %d: Subscribe(%q) existed %v, want %v", step, f, existed, had)
			}
			if !had {
				order = append(order, f)
			}
			want[f] = q
		case 2:
			_, had := want[f]
			if s.Unsubscribe(f) != had {
				t.Fatalf("step %d: Unsubscribe(%q) %v, want %v", step, f, !had, had)
			}
			delete(want, f)
			for i, g := range order {
				if g == f {
					order = append(order[:i], order[i+1:]...)
					break
				}
			}
		}
		if len(s.Subs) != len(want) {
			t.Fatalf("step %d: %d subscriptions, want %d", step, len(s.Subs), len(want))
		}
		for i, sub := range s.Subs {
			if sub.Filter != order[i] || sub.Options.QoS != want[sub.Filter] {
				t.Fatalf("step %d: Subs[%d] = %+v, want %q QoS %d", step, i, sub, order[i], want[sub.Filter])
			}
			if o, ok := s.Subscription(sub.Filter); !ok || o != sub.Options {
				t.Fatalf("step %d: Subscription(%q) = %+v %v", step, sub.Filter, o, ok)
			}
		}
		if (s.subIdx != nil) && len(s.subIdx) != len(s.Subs) {
			t.Fatalf("step %d: index has %d entries, Subs %d", step, len(s.subIdx), len(s.Subs))
		}
	}
	if s.subIdx == nil && len(s.Subs) >= subIndexMin {
		t.Fatalf("%d subscriptions and no index", len(s.Subs))
	}
	got := s.TakeSubs()
	if len(got) != len(want) || len(s.Subs) != 0 || s.subIdx != nil {
		t.Fatalf("TakeSubs: %d taken, %d left, index %v", len(got), len(s.Subs), s.subIdx != nil)
	}
	if _, ok := s.Subscription(order[0]); ok || s.Subscribe(order[0], trie.Options{}) {
		t.Fatal("a subscription survived TakeSubs")
	}
	s.Reset()
	if len(s.Subs) != 0 || s.subIdx != nil {
		t.Fatal("Reset kept subscriptions")
	}
}

// BenchmarkSessionSubscribe: one op is one session subscribing n distinct filters, each
// checked first as SUBSCRIBE does (Subscription, then Subscribe). With the index the cost per
// filter is flat; a scan of the list made it grow with n (engine/reliability.md).
func BenchmarkSessionSubscribe(b *testing.B) {
	for _, n := range []int{100, 10000, 40000} {
		filters := make([]string, n)
		for i := range filters {
			filters[i] = "tenant/" + strconv.Itoa(i%97) + "/device/" + strconv.Itoa(i) + "/#"
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := New("c", 0)
				for _, f := range filters {
					if _, ok := s.Subscription(f); !ok {
						s.Subscribe(f, trie.Options{QoS: 1})
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/filter")
		})
	}
}
