package rewrite

import "testing"

func benchRules(b *testing.B) *Rules {
	var list []Rule
	for _, s := range []string{`x/# ^x/y/(.+)$ z/y/$1`, `y/+/z/# ^y/(.+)/z/(.+)$ y/z/$2`, `dev/+/up ^dev/([^/]+)/up$ up/$1`} {
		r, err := Parse(s)
		if err != nil {
			b.Fatal(err)
		}
		list = append(list, r)
	}
	rs, err := Compile(list)
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// BenchmarkApplyNoMatch is the cost every PUBLISH pays when rules exist but none applies.
func BenchmarkApplyNoMatch(b *testing.B) {
	rs := benchRules(b)
	topic := []byte("sensors/building-1/floor-2/temperature")
	b.ReportAllocs()
	b.SetBytes(int64(len(topic)))
	for b.Loop() {
		rs.Apply(nil, topic)
	}
}

// BenchmarkApplyRewrite is the cost of a rewritten topic (filter, regexp and destination).
func BenchmarkApplyRewrite(b *testing.B) {
	rs := benchRules(b)
	topic := []byte("dev/device-0001/up")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(topic)))
	for b.Loop() {
		buf, _ = rs.Apply(buf[:0], topic)
	}
}
