package logging

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is a destination that records what it is given; when gate is set, every Write first
// announces itself on entered and then waits for gate to be closed.
type sink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	entered chan struct{}
	gate    chan struct{}
}

func (s *sink) Write(p []byte) (int, error) {
	if s.gate != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.buf.String(), "\n"), "\n")
}

func TestOrderPreserved(t *testing.T) {
	out := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := New(out, Options{MaxLines: 100_000, MaxBytes: 10 << 20})
	defer w.Close()
	w.Write([]byte("line -1\n"))
	<-out.entered // the rest queues up behind the stuck destination
	const n = 20_000
	size := 0
	for i := range n {
		k, _ := fmt.Fprintf(w, "line %d\n", i)
		size += k
	}
	close(out.gate)
	w.Flush()
	got := out.lines()
	if len(got) != n+1 {
		t.Fatalf("%d lines written, want %d", len(got), n+1)
	}
	for i, l := range got {
		if want := "line " + strconv.Itoa(i-1); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
	if w.Dropped() != 0 {
		t.Fatalf("Dropped() = %d, want 0", w.Dropped())
	}
	// The queued lines go out in batches of about batchBytes.
	if max := 1 + size/batchBytes + 1; out.writes > max {
		t.Errorf("%d writes to the destination for %d queued bytes, want at most %d", out.writes, size, max)
	}
}

// TestDropsWhileBlocked fills the queue while the destination is stuck: Write keeps returning,
// the overflow is counted exactly, and the report follows the queued lines once it unblocks.
func TestDropsWhileBlocked(t *testing.T) {
	out := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	const maxLines, extra = 50, 37
	w := New(out, Options{MaxLines: maxLines, ReportInterval: time.Hour})
	w.Write([]byte("first\n"))
	<-out.entered // the goroutine holds "first" and is stuck in the destination
	for i := range maxLines + extra {
		if n, err := fmt.Fprintf(w, "queued %d\n", i); err != nil || n == 0 {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := w.Dropped(); got != extra {
		t.Fatalf("Dropped() = %d, want %d", got, extra)
	}
	close(out.gate)
	w.Flush()
	got := out.lines()
	if len(got) != 1+maxLines+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(got), 1+maxLines+1, strings.Join(got, "\n"))
	}
	if got[0] != "first" || got[maxLines] != "queued "+strconv.Itoa(maxLines-1) {
		t.Fatalf("lines out of order: %q … %q", got[0], got[maxLines])
	}
	report := got[len(got)-1]
	if !strings.Contains(report, "log lines dropped under overload: "+strconv.Itoa(extra)+" since ") || !strings.Contains(report, "level=WARN") {
		t.Fatalf("report line = %q", report)
	}
	// Reported once: a second flush adds nothing.
	w.Flush()
	if n := len(out.lines()); n != len(got) {
		t.Fatalf("%d lines after a second flush, want %d", n, len(got))
	}
	w.Close()
}

func TestByteBound(t *testing.T) {
	out := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := New(out, Options{MaxLines: 1000, MaxBytes: 100})
	w.Write([]byte("x\n"))
	<-out.entered
	line := []byte(strings.Repeat("y", 39) + "\n")
	for range 5 {
		w.Write(line) // two fit in 100 bytes
	}
	if got := w.Dropped(); got != 3 {
		t.Fatalf("Dropped() = %d, want 3", got)
	}
	close(out.gate)
	w.Close()
}

func TestPeriodicReport(t *testing.T) {
	out := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := New(out, Options{MaxLines: 1, ReportInterval: 20 * time.Millisecond, Report: func(n uint64, since time.Time) []byte {
		return AppendReportMessage(nil, n, since)
	}})
	defer w.Close()
	w.Write([]byte("a\n"))
	<-out.entered
	w.Write([]byte("b\n"))
	w.Write([]byte("c\n")) // dropped
	close(out.gate)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(out.lines(), "\n"), "log lines dropped under overload: 1 since ") {
		if time.Now().After(deadline) {
			t.Fatalf("no drop report without a flush; log:\n%s", strings.Join(out.lines(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowSink takes a while per write, as a slow disk would.
type slowSink struct{ sink }

func (s *slowSink) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.sink.Write(p)
}

func TestCloseDrains(t *testing.T) {
	out := &slowSink{}
	w := New(out, Options{})
	const n = 300
	for i := range n {
		fmt.Fprintf(w, "line %d\n", i)
	}
	w.Close()
	got := out.lines()
	if len(got) != n || got[n-1] != "line "+strconv.Itoa(n-1) {
		t.Fatalf("%d lines after Close, want %d (last %q)", len(got), n, got[len(got)-1])
	}
	// After Close, writes go straight through.
	w.Write([]byte("late\n"))
	if got := out.lines(); got[len(got)-1] != "late" {
		t.Fatalf("line written after Close is missing: last %q", got[len(got)-1])
	}
	w.Close() // a second Close does nothing
	w.Flush() // nor does a Flush after Close
}

// TestConcurrentWriters runs writers in parallel (meant for -race) against a small queue:
// every line is either written whole or counted as dropped, and each writer's lines keep
// their order.
func TestConcurrentWriters(t *testing.T) {
	out := &sink{}
	w := New(out, Options{MaxLines: 64})
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				fmt.Fprintf(w, "%d %d\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	last := make([]int, writers)
	for i := range last {
		last[i] = -1
	}
	lines := 0
	for _, l := range out.lines() {
		if strings.Contains(l, "dropped under overload") {
			continue
		}
		var g, i int
		if _, err := fmt.Sscanf(l, "%d %d", &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i <= last[g] {
			t.Fatalf("writer %d: line %d after line %d", g, i, last[g])
		}
		last[g] = i
		lines++
	}
	if uint64(lines)+w.Dropped() != writers*each {
		t.Fatalf("%d lines written + %d dropped != %d", lines, w.Dropped(), writers*each)
	}
}
