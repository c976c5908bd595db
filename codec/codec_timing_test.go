package codec

import "testing"

var publishCases = []struct {
	name string
	v    Version
	size int
}{
	{"v311-64B", V311, 64},
	{"v311-4KiB", V311, 4096},
	{"v5-64B", V5, 64},
	{"v5-4KiB", V5, 4096},
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, c := range publishCases {
		b.Run(c.name, func(b *testing.B) {
			_, raw := benchPublish(c.v, c.size)
			var p Publish
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := p.Decode(raw, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodePublish(b *testing.B) {
	for _, c := range publishCases {
		b.Run(c.name, func(b *testing.B) {
			p, raw := benchPublish(c.v, c.size)
			buf := make([]byte, 0, len(raw))
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf = AppendPublish(buf[:0], p, c.v)
			}
		})
	}
}

// BenchmarkPublishHeader is the fan-out path: the per-subscriber header
// only, the payload being written from the shared buffer.
func BenchmarkPublishHeader(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		b.Run(v.String(), func(b *testing.B) {
			p, _ := benchPublish(v, 64)
			var h PublishHeader
			h.Prepare(p.Topic, &p.Props, len(p.Payload))
			buf := make([]byte, 0, 256)
			ids := []uint32{3}
			b.ReportAllocs()
			for b.Loop() {
				buf = h.AppendTo(buf[:0], Delivery{Version: v, QoS: 1, PacketID: 9, SubscriptionIDs: ids})
			}
		})
	}
}

func BenchmarkFrame(b *testing.B) {
	_, raw := benchPublish(V5, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if h, err := Frame(raw, 1<<20); err != nil || h.Total == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	sub := Subscribe{PacketID: 5, Subs: []Subscription{
		{Filter: []byte("a/+/c"), QoS: 1}, {Filter: []byte("$share/g/x/#"), QoS: 2}, {Filter: []byte("sensors/+/temperature")},
	}}
	sub.Props.AddSubscriptionID(12)
	raw := AppendSubscribe(nil, &sub, V5)
	var dec Subscribe
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := dec.Decode(raw, V5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidTopicName(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchTopic)))
	for b.Loop() {
		if err := ValidTopicName(benchTopic); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStrictUTF8(b *testing.B) {
	for _, tc := range []struct {
		name string
		s    []byte
	}{
		{"ascii", benchTopic},
		{"mixed", []byte("capteurs/b\u00e2timent-1/\u00e9tage-3/\u65e5/temp\u00e9rature")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.s)))
			for b.Loop() {
				if err := StrictUTF8(tc.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
