// Side-by-side benchmarks of trie against mochi-mqtt's topic index, in the
// same process and run. Names end in /emqgo and /mochi so that
//
//	go test -run - -bench . | grep -E 'emqgo|mochi'
//
// reads as a table.
package compare

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/emqgo/emqgo/trie"
)

// The workload matches trie/index_timing_test.go: n IoT subscriptions
// "site/<s>/dev/<id>/temp" over 1000 sites, one client each.
func trieFilter(kind string, i int) string {
	base := "site/" + strconv.Itoa(i%1000) + "/dev/" + strconv.Itoa(i) + "/"
	switch kind {
	case "plus":
		return base + "+"
	case "hash":
		return base + "#"
	case "mixed":
		switch r := i % 20; {
		case r < 16:
			return base + "temp"
		case r < 19:
			return base + "+"
		default:
			return base + "#"
		}
	}
	return base + "temp"
}

func trieExtraFilters(kind string, n int) []string {
	if kind != "mixed" {
		return nil
	}
	var out []string
	for i := range n/10000 + 1 {
		out = append(out, "site/"+strconv.Itoa(i%1000)+"/#", "site/+/dev/+/temp")
	}
	return out
}

type trieWorkload struct {
	filters []string // one per client
	clients []string // mochi client ids
	topics  []string
	btopics [][]byte
}

func newTrieWorkload(n int, kind string) *trieWorkload {
	w := &trieWorkload{}
	for i := range n {
		w.filters = append(w.filters, trieFilter(kind, i))
	}
	w.filters = append(w.filters, trieExtraFilters(kind, n)...)
	for i := range w.filters {
		w.clients = append(w.clients, "client-"+strconv.Itoa(i))
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for range 4096 {
		id := r.IntN(n)
		t := "site/" + strconv.Itoa(id%1000) + "/dev/" + strconv.Itoa(id) + "/temp"
		w.topics = append(w.topics, t)
		w.btopics = append(w.btopics, []byte(t))
	}
	return w
}

func (w *trieWorkload) emqgo() *trie.Index[int] {
	x := trie.New[int]()
	for i, f := range w.filters {
		x.Subscribe(f, i, trie.Options{QoS: 1})
	}
	return x
}

func (w *trieWorkload) mochi() *mqtt.TopicsIndex {
	x := mqtt.NewTopicsIndex()
	for i, f := range w.filters {
		x.Subscribe(w.clients[i], packets.Subscription{Filter: f, Qos: 1})
	}
	return x
}

var trieSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

func BenchmarkMatch(b *testing.B) {
	for _, size := range trieSizes {
		for _, kind := range []string{"exact", "plus", "hash", "mixed"} {
			if size.n == 1_000_000 && kind != "mixed" && kind != "exact" {
				continue // keep the 1M runs to two mixes: each build takes seconds
			}
			w := newTrieWorkload(size.n, kind)
			name := size.name + "-" + kind
			x := w.emqgo()
			b.Run(name+"/emqgo", func(b *testing.B) {
				b.ReportAllocs()
				var m trie.Matches[int]
				for i := 0; b.Loop(); i++ {
					m.Reset()
					x.Match(w.btopics[i&4095], &m)
				}
			})
			x = nil
			runtime.GC()
			mx := w.mochi()
			b.Run(name+"/mochi", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					_ = mx.Subscribers(w.topics[i&4095])
				}
			})
			mx = nil
			runtime.GC()
		}
	}
}

// BenchmarkMatchParallel matches from every P at once; run it with
// -cpu 1,2,... and compare ns/op across the CPU counts of one run.
func BenchmarkMatchParallel(b *testing.B) {
	for _, c := range []struct {
		n          int
		name, kind string
	}{{100_000, "100k", "exact"}, {100_000, "100k", "mixed"}, {1_000_000, "1M", "exact"}} {
		if testing.Short() && c.n > 100_000 {
			continue
		}
		w := newTrieWorkload(c.n, c.kind)
		x := w.emqgo()
		b.Run(c.name+"-"+c.kind+"/emqgo", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := new(paddedMatches) // one per goroutine, as per event loop
				i := rand.IntN(4096)
				for pb.Next() {
					p.m.Reset()
					x.Match(w.btopics[i&4095], &p.m)
					i++
				}
			})
		})
		x = nil
		runtime.GC()
		mx := w.mochi()
		b.Run(c.name+"-"+c.kind+"/mochi", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(4096)
				for pb.Next() {
					_ = mx.Subscribers(w.topics[i&4095])
					i++
				}
			})
		})
		mx = nil
		runtime.GC()
	}
}

// paddedMatches keeps goroutines' aggregators (written on every Reset) on
// separate cache lines, as they are in the broker's per-loop state.
type paddedMatches struct {
	_ [128]byte
	m trie.Matches[int]
	_ [128]byte
}

func BenchmarkMatchFanout(b *testing.B) {
	const n = 10_000
	x := trie.New[int]()
	mx := mqtt.NewTopicsIndex()
	for i := range n {
		x.Subscribe("news/all", i, trie.Options{QoS: 1})
		mx.Subscribe("client-"+strconv.Itoa(i), packets.Subscription{Filter: "news/all", Qos: 1})
	}
	b.Run("10k/emqgo", func(b *testing.B) {
		b.ReportAllocs()
		var m trie.Matches[int]
		topic := []byte("news/all")
		for b.Loop() {
			m.Reset()
			x.Match(topic, &m)
		}
	})
	b.Run("10k/mochi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = mx.Subscribers("news/all")
		}
	})
}

func BenchmarkSubscribe(b *testing.B) {
	w := newTrieWorkload(1_000_000, "mixed")
	b.Run("distinct/emqgo", func(b *testing.B) {
		b.ReportAllocs()
		x := trie.New[int]()
		i := 0
		for b.Loop() {
			x.Subscribe(w.filters[i%len(w.filters)], i, trie.Options{QoS: 1})
			i++
		}
	})
	b.Run("distinct/mochi", func(b *testing.B) {
		b.ReportAllocs()
		x := mqtt.NewTopicsIndex()
		i := 0
		for b.Loop() {
			x.Subscribe(w.clients[i%len(w.clients)], packets.Subscription{Filter: w.filters[i%len(w.filters)], Qos: 1})
			i++
		}
	})
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory reports heap bytes per subscription at 1M. The workload's
// strings exist before the measurement and are not counted.
func BenchmarkMemory(b *testing.B) {
	for _, kind := range []string{"exact", "mixed"} {
		w := newTrieWorkload(1_000_000, kind)
		n := float64(len(w.filters))
		b.Run("1M-"+kind+"/emqgo", func(b *testing.B) {
			var per float64
			for b.Loop() {
				before := heapAlloc()
				x := w.emqgo()
				per = float64(heapAlloc()-before) / n
				runtime.KeepAlive(x)
			}
			b.ReportMetric(per, "B/sub")
		})
		b.Run("1M-"+kind+"/mochi", func(b *testing.B) {
			var per float64
			for b.Loop() {
				before := heapAlloc()
				x := w.mochi()
				per = float64(heapAlloc()-before) / n
				runtime.KeepAlive(x)
			}
			b.ReportMetric(per, "B/sub")
		})
	}
}

// BenchmarkRetainedMatch looks up "site/7/dev/+/temp" (1000 hits) among 1M
// retained topics.
func BenchmarkRetainedMatch(b *testing.B) {
	const n = 1_000_000
	const filter = "site/7/dev/+/temp"
	topics := make([]string, n)
	for i := range topics {
		topics[i] = "site/" + strconv.Itoa(i%1000) + "/dev/" + strconv.Itoa(i) + "/temp"
	}
	r := trie.NewRetained[*packets.Packet](0, 0)
	for _, t := range topics {
		r.Set(t, &packets.Packet{TopicName: t, Payload: []byte("1")}, 1)
	}
	b.Run("1M-plus/emqgo", func(b *testing.B) {
		b.ReportAllocs()
		found := 0
		for b.Loop() {
			r.Match(filter, func(string, *packets.Packet) bool { found++; return true })
		}
	})
	r = nil
	runtime.GC()
	mx := mqtt.NewTopicsIndex()
	for _, t := range topics {
		mx.RetainMessage(packets.Packet{TopicName: t, Payload: []byte("1"), FixedHeader: packets.FixedHeader{Retain: true}})
	}
	b.Run("1M-plus/mochi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = mx.Messages(filter)
		}
	})
}
