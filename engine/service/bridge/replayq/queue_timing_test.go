package replayq

import "testing"

// BenchmarkAppendDurable: 64-byte items appended in batches of 512 to a durable queue, one
// Commit per batch (the bridge's intake with the remote down: nothing is acknowledged).
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
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if _, err := q.Append(batch...); err != nil {
			b.Fatal(err)
		}
		q.Commit(func(error) {})
	}
	done := make(chan error, 1)
	q.Commit(func(err error) { done <- err })
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
