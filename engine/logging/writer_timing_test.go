package logging

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkWrite is the cost a logging goroutine pays per line, queue included.
func BenchmarkWrite(b *testing.B) {
	w := New(io.Discard, Options{})
	defer w.Close()
	line := []byte(`time=2024-01-01T00:00:00.000Z level=WARN msg="closing connection" client=c1 peer=127.0.0.1:5555 reason=Success cause="CONNECT refused"` + "\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Write(line)
		}
	})
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkSlog compares a slog text handler writing straight to the destination with one
// writing through a Writer.
func BenchmarkSlog(b *testing.B) {
	run := func(b *testing.B, out io.Writer) {
		log := slog.New(slog.NewTextHandler(out, nil))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				log.Warn("closing connection", "client", "c1", "peer", "127.0.0.1:5555", "reason", "Success")
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, io.Discard) })
	b.Run("async", func(b *testing.B) {
		w := New(io.Discard, Options{})
		defer w.Close()
		run(b, w)
	})
}
