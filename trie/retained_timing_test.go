package trie

import (
	"strconv"
	"testing"
)

// BenchmarkRetainedMatch looks up filters in 1M retained topics of the
// benchmark's IoT shape ("site/<s>/dev/<id>/temp", 1000 sites).
func BenchmarkRetainedMatch(b *testing.B) {
	const n = 1_000_000
	r := NewRetained[int](0, 0)
	for i := range n {
		r.Set("site/"+strconv.Itoa(i%1000)+"/dev/"+strconv.Itoa(i)+"/temp", i, 1)
	}
	cases := []struct{ name, filter string }{
		{"exact", "site/7/dev/5007/temp"},
		{"plus-id", "site/7/dev/+/temp"},   // 1000 topics of one site
		{"plus-site", "site/+/dev/5007/+"}, // 1 topic, every site's branch visited
		{"hash-site", "site/7/#"},          // 1000 topics
	}
	for _, c := range cases {
		b.Run("1M-"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			found := 0
			fn := func(string, int) bool { found++; return true }
			for b.Loop() {
				r.Match(c.filter, fn)
			}
			b.ReportMetric(float64(found)/float64(b.N), "msgs/op")
		})
		b.Run("1M-"+c.name+"-cursor", func(b *testing.B) {
			b.ReportAllocs()
			var cur RetainedCursor[int]
			buf := make([]int, 0, 256)
			found := 0
			for b.Loop() {
				cur.Start(r, c.filter)
				for !cur.Done() {
					found += len(cur.Next(buf[:0], cap(buf)))
				}
			}
			b.ReportMetric(float64(found)/float64(b.N), "msgs/op")
		})
	}
	b.Run("set-replace", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.Set("site/7/dev/"+strconv.Itoa(7+1000*(i%1000))+"/temp", i, 10)
		}
	})
}
