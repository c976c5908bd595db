package replayq

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func item(i int) []byte {
	// Half of the items compress (repeated text), half do not (short).
	if i%2 == 0 {
		return bytes.Repeat([]byte(fmt.Sprintf("item-%06d;", i)), 20)
	}
	return []byte(fmt.Sprintf("i%d", i))
}

func popAll(t *testing.T, q *Queue, batch int) []Item {
	t.Helper()
	var out []Item
	for {
		items, err := q.Pop(batch, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			return out
		}
		out = append(out, items...)
	}
}

func checkItems(t *testing.T, got []Item, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d", len(got), len(want))
	}
	for i, it := range got {
		if !bytes.Equal(it.Data, item(want[i])) {
			t.Fatalf("item %d is %q, want %q", i, it.Data, item(want[i]))
		}
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestPopAckRewind(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			opts := Options{}
			if dir != "" {
				opts.Dir = t.TempDir()
			}
			q, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			for i := range 100 {
				if _, err := q.Append(item(i)); err != nil {
					t.Fatal(err)
				}
			}
			first, _ := q.Pop(10, 1<<30)
			checkItems(t, first, seq(0, 10))
			second, _ := q.Pop(10, 1<<30)
			checkItems(t, second, seq(10, 20))
			// The second batch is acknowledged first: nothing leaves the head yet.
			for _, it := range second {
				q.Ack(it.Seq)
			}
			if s := q.Stats(); s.Count != 90 {
				t.Fatalf("%d items after acking 10 of 100 (stats %+v), want 90", s.Count, s)
			}
			q.Rewind()
			checkItems(t, popAll(t, q, 7), append(seq(0, 10), seq(20, 100)...))
			q.Rewind()
			for _, it := range first {
				q.Ack(it.Seq)
			}
			checkItems(t, popAll(t, q, 50), seq(20, 100))
			if s := q.Stats(); s.Count != 80 || s.Acked != 20 || s.Appended != 100 || s.Oldest == 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestBatchBytes(t *testing.T) {
	q, _ := Open(Options{})
	for range 10 {
		q.Append(make([]byte, 100))
	}
	items, _ := q.Pop(100, 250)
	if len(items) != 2 {
		t.Fatalf("a 250-byte batch of 100-byte items took %d, want 2", len(items))
	}
	items, _ = q.Pop(100, 50)
	if len(items) != 1 {
		t.Fatalf("a batch smaller than one item took %d, want 1", len(items))
	}
}

func TestOverflowDropsOldest(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			opts := Options{MaxBytes: 1000}
			if dir != "" {
				opts.Dir = t.TempDir()
			}
			q, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			dropped := 0
			for range 25 {
				n, err := q.Append(make([]byte, 100))
				if err != nil {
					t.Fatal(err)
				}
				dropped += n
			}
			s := q.Stats()
			if s.Count != 10 || s.Bytes != 1000 || s.Dropped != 15 || dropped != 15 {
				t.Fatalf("stats %+v (Append said %d dropped), want 10 items, 1000 bytes, 15 dropped", s, dropped)
			}
			items := popAll(t, q, 100)
			if items[0].Seq != 16 {
				t.Fatalf("oldest kept is %d, want 16", items[0].Seq)
			}
			q.Close()
			if dir != "" {
				q, err = Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close()
				if s := q.Stats(); s.Count != 10 {
					t.Fatalf("reopened queue holds %d items, want the 10 kept", s.Count)
				}
			}
		})
	}
}

// TestDurableReopen: what is not acknowledged survives Close and Open, in order, with items
// read back from disk when memory is short.
func TestDurableReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 4096, MemoryBytes: 2000}
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		q.Append(item(i))
	}
	waitWritten(t, q)
	checkItems(t, popAll(t, q, 64), seq(0, 300))
	q.Rewind()
	items, _ := q.Pop(100, 1<<30)
	for _, it := range items {
		q.Ack(it.Seq)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	checkItems(t, popAll(t, q, 33), seq(100, 300))
	if q.memBytes > opts.MemoryBytes {
		t.Fatalf("reopened queue holds %d bytes in memory, over MemoryBytes %d", q.memBytes, opts.MemoryBytes)
	}
	for i := 300; i < 310; i++ {
		q.Append(item(i))
	}
	checkItems(t, popAll(t, q, 33), seq(300, 310))
}

func waitWritten(t *testing.T, q *Queue) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		mem := q.memBytes
		q.mu.Unlock()
		if mem <= q.opts.MemoryBytes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still holds %d bytes in memory after the log wrote everything", mem)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestValueEncoding(t *testing.T) {
	f := func(data []byte, compressed bool) {
		t.Helper()
		v := encodeValue(nil, data, 42)
		if (v[0] == flagS2) != compressed {
			t.Fatalf("%d bytes: compressed=%v, want %v", len(data), v[0] == flagS2, compressed)
		}
		got, at, err := decodeValue(v)
		if err != nil || at != 42 || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %q %d %v", got, at, err)
		}
	}
	f([]byte("short"), false)
	f(bytes.Repeat([]byte("abc"), 100), true)
	f(bytes.Repeat([]byte("abc"), 50), false) // under compressMin
	random := make([]byte, 300)
	for i := range random {
		random[i] = byte(i*7919>>3) ^ byte(i*31)
	}
	f(random, false)
	if _, _, err := decodeValue([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Fatal("an unknown flag decoded")
	}
}
