package trie

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkIndexBytesPerFilter measures the heap an index holds per distinct filter, the
// figure the cluster's scale model (engine/service/cluster/SCALE.md) builds on: "local" gives
// each filter its own subscriber (one client per filter), "route" gives every filter the same
// handle (how a node stores the filters another node announced: one peer handle per node).
// Filters look like device topics: dev/<site>/<id>/cmd/+ and dev/<site>/<id>/#.
func BenchmarkIndexBytesPerFilter(b *testing.B) {
	const n = 200000
	for _, mode := range []string{"local", "route"} {
		b.Run(mode, func(b *testing.B) {
			var per float64
			for range b.N {
				filters := make([]string, n)
				for i := range filters {
					site := strconv.Itoa(i % 1000)
					if i%2 == 0 {
						filters[i] = "dev/" + site + "/" + strconv.Itoa(i) + "/cmd/+"
					} else {
						filters[i] = "dev/" + site + "/" + strconv.Itoa(i) + "/#"
					}
				}
				before := heapInUse()
				x := New[int]()
				for i, f := range filters {
					h := 0
					if mode == "local" {
						h = i + 1
					}
					if _, err := x.Subscribe(f, h, Options{QoS: 1}); err != nil {
						b.Fatal(err)
					}
				}
				after := heapInUse()
				per = float64(after-before) / n
				runtime.KeepAlive(x)
				runtime.KeepAlive(filters)
			}
			b.ReportMetric(per, "bytes/filter")
		})
	}
}
