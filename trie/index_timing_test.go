package trie

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

// The benchmark workload: n subscriptions of IoT shape, one per client,
// "site/<s>/dev/<id>/temp" with 1000 sites. kind chooses the filter mix:
//
//	exact  every filter is a full topic name
//	plus   every filter ends in "+"      (site/<s>/dev/<id>/+)
//	hash   every filter ends in "#"      (site/<s>/dev/<id>/#)
//	mixed  80% exact, 15% plus, 5% hash, plus n/10000 "site/<s>/#" monitors
//	       and n/10000 "site/+/dev/+/temp" dashboards
//
// Topics published are "site/<s>/dev/<id>/temp" for random ids, so each
// matches a handful of subscriptions, as in telemetry fan-in.
func benchFilter(kind string, i int) string {
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

func benchExtraFilters(kind string, n int) []string {
	if kind != "mixed" {
		return nil
	}
	var out []string
	for i := range n/10000 + 1 {
		out = append(out, "site/"+strconv.Itoa(i%1000)+"/#", "site/+/dev/+/temp")
	}
	return out
}

func benchTopics(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	topics := make([][]byte, 4096)
	for i := range topics {
		id := r.IntN(n)
		topics[i] = []byte("site/" + strconv.Itoa(id%1000) + "/dev/" + strconv.Itoa(id) + "/temp")
	}
	return topics
}

func buildBenchIndex(n int, kind string) *Index[int] {
	x := New[int]()
	for i := range n {
		x.Subscribe(benchFilter(kind, i), i, Options{QoS: 1})
	}
	for j, f := range benchExtraFilters(kind, n) {
		x.Subscribe(f, n+j, Options{})
	}
	return x
}

var benchSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

func BenchmarkMatch(b *testing.B) {
	for _, size := range benchSizes {
		for _, kind := range []string{"exact", "plus", "hash", "mixed"} {
			b.Run(size.name+"-"+kind, func(b *testing.B) {
				// Built inside the sub-benchmark (b.Loop runs the body once),
				// so a -bench filter skips the other indexes' builds.
				x := buildBenchIndex(size.n, kind)
				topics := benchTopics(size.n)
				b.ReportAllocs()
				var m Matches[int]
				delivered := 0
				for i := 0; b.Loop(); i++ {
					m.Reset()
					x.Match(topics[i&4095], &m)
					delivered += len(m.Subscribers)
				}
				b.ReportMetric(float64(delivered)/float64(b.N), "subs/op")
			})
		}
	}
}

// BenchmarkMatchParallel matches from every P at once (run with -cpu 1,2,...:
// ns/op falling in proportion to the CPUs means readers do not contend).
func BenchmarkMatchParallel(b *testing.B) {
	for _, size := range benchSizes {
		for _, kind := range []string{"exact", "mixed"} {
			b.Run(size.name+"-"+kind, func(b *testing.B) {
				x := buildBenchIndex(size.n, kind)
				topics := benchTopics(size.n)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					p := new(paddedMatches) // one per goroutine, as per event loop
					m := &p.m
					i := rand.IntN(4096)
					for pb.Next() {
						m.Reset()
						x.Match(topics[i&4095], m)
						i++
					}
				})
			})
		}
	}
}

// paddedMatches keeps goroutines' aggregators on separate cache lines.
type paddedMatches struct {
	_ [128]byte
	m Matches[int]
	_ [128]byte
}

// BenchmarkMatchFanout publishes to one filter with many subscribers.
func BenchmarkMatchFanout(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		x := New[int]()
		for i := range n {
			x.Subscribe("news/all", i, Options{QoS: 1})
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var m Matches[int]
			for b.Loop() {
				m.Reset()
				x.Match([]byte("news/all"), &m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sub")
		})
	}
}

func BenchmarkSubscribe(b *testing.B) {
	b.Run("distinct-filters", func(b *testing.B) {
		b.ReportAllocs()
		x := New[int]()
		i := 0
		for b.Loop() {
			x.Subscribe(benchFilter("mixed", i), i, Options{QoS: 1})
			i++
		}
	})
	b.Run("one-filter-fanout", func(b *testing.B) {
		b.ReportAllocs()
		x := New[int]()
		i := 0
		for b.Loop() {
			x.Subscribe("news/all", i, Options{QoS: 1})
			i++
		}
	})
	b.Run("batch-100", func(b *testing.B) {
		b.ReportAllocs()
		x := New[int]()
		ops := make([]Op[int], 100)
		i := 0
		for b.Loop() {
			for j := range ops {
				ops[j] = Op[int]{Filter: benchFilter("mixed", i), Handle: i}
				i++
			}
			x.Apply(ops)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/sub")
	})
}

// BenchmarkSubscribeUnsubscribe churns one subscription in and out of a
// 100k-subscription index: the SUBSCRIBE/UNSUBSCRIBE cost at steady state.
func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	x := buildBenchIndex(100_000, "mixed")
	for i := range 1000 {
		x.Subscribe("news/all", 200_000+i, Options{})
	}
	b.Run("100k-distinct", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f := benchFilter("mixed", 100_000+i%50_000)
			x.Subscribe(f, i, Options{})
			x.Unsubscribe(f, i)
			i++
		}
	})
	b.Run("fanout-1000", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			x.Subscribe("news/all", i, Options{})
			x.Unsubscribe("news/all", i)
		}
	})
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory reports the heap bytes per subscription of a built index.
func BenchmarkMemory(b *testing.B) {
	for _, size := range benchSizes {
		for _, kind := range []string{"exact", "mixed"} {
			b.Run(fmt.Sprintf("%s-%s", size.name, kind), func(b *testing.B) {
				var perSub float64
				for b.Loop() {
					before := heapInUse()
					x := buildBenchIndex(size.n, kind)
					after := heapInUse()
					perSub = float64(after-before) / float64(size.n)
					runtime.KeepAlive(x)
				}
				b.ReportMetric(perSub, "B/sub")
			})
		}
	}
}
