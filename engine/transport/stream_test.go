package transport

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// fakeLoop runs tasks one at a time on its own goroutine, as an event loop does.
type fakeLoop struct {
	tasks chan gnet.Runnable
}

func newFakeLoop(t *testing.T) *fakeLoop {
	l := &fakeLoop{tasks: make(chan gnet.Runnable, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range l.tasks {
			_ = r.Run(context.Background())
		}
	}()
	t.Cleanup(func() { close(l.tasks); <-done })
	return l
}

func (l *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error { l.tasks <- r; return nil }

// onLoop runs f on the loop and waits.
func (l *fakeLoop) onLoop(f func()) {
	done := make(chan struct{})
	l.tasks <- &runTask{f: func() { f(); close(done) }}
	<-done
}

// collector consumes input in random-sized pieces, as the state machine does (it leaves
// partial packets buffered), and records everything consumed.
type collector struct {
	s      *Stream
	rnd    *rand.Rand
	got    bytes.Buffer
	closed chan error
	mu     sync.Mutex
}

func (c *collector) Input() {
	for c.s.InboundBuffered() > 0 {
		k := 1 + c.rnd.Intn(6000)
		b, err := c.s.Peek(k)
		if err != nil {
			// Short: sometimes take what is there, sometimes wait for more.
			if c.rnd.Intn(2) == 0 {
				return
			}
			k = len(b)
		}
		c.mu.Lock()
		c.got.Write(b[:k])
		c.mu.Unlock()
		if n, _ := c.s.Discard(k); n != k {
			panic("short discard")
		}
	}
}

func (c *collector) Closed(err error) { c.closed <- err }

func TestStreamInputIntegrity(t *testing.T) {
	loop := newFakeLoop(t)
	a, b := net.Pipe()
	col := &collector{rnd: rand.New(rand.NewSource(1)), closed: make(chan error, 1)}
	s := NewStream(a, loop, col)
	col.s = s
	go s.Run()
	want := make([]byte, 3<<20)
	rand.New(rand.NewSource(2)).Read(want)
	go func() {
		rnd := rand.New(rand.NewSource(3))
		for off := 0; off < len(want); {
			k := min(1+rnd.Intn(20000), len(want)-off)
			if _, err := b.Write(want[off : off+k]); err != nil {
				return
			}
			off += k
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		loop.onLoop(func() {
			col.Input() // take what a "wait for more" left behind
			n = col.got.Len()
		})
		if n == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d bytes", n, len(want))
		}
		time.Sleep(time.Millisecond)
	}
	if !bytes.Equal(col.got.Bytes(), want) {
		t.Fatal("input corrupted")
	}
	loop.onLoop(func() { _ = s.Close() })
	select {
	case err := <-col.closed:
		if err != nil {
			t.Fatalf("Closed(%v), want nil after Close", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Closed")
	}
}

func TestStreamOutputAndClose(t *testing.T) {
	loop := newFakeLoop(t)
	a, b := net.Pipe()
	col := &collector{rnd: rand.New(rand.NewSource(1)), closed: make(chan error, 1)}
	s := NewStream(a, loop, col)
	col.s = s
	go s.Run()
	var want bytes.Buffer
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	rnd := rand.New(rand.NewSource(4))
	for i := 0; i < 200; i++ {
		p := make([]byte, rnd.Intn(9000))
		rnd.Read(p)
		q := make([]byte, rnd.Intn(100))
		rnd.Read(q)
		want.Write(p)
		want.Write(q)
		loop.onLoop(func() {
			if i%2 == 0 {
				_, _ = s.Write(append(p, q...))
			} else {
				_, _ = s.Writev([][]byte{p, q})
			}
			if s.OutboundBuffered() < 0 {
				panic("negative backlog")
			}
			// The caller may reuse its buffers once the call returns.
			clear(p)
			clear(q)
		})
	}
	loop.onLoop(func() { _ = s.Close() })
	select {
	case all := <-got:
		if !bytes.Equal(all, want.Bytes()) {
			t.Fatalf("output: %d bytes, want %d, equal prefix? %v", len(all), want.Len(), bytes.HasPrefix(want.Bytes(), all))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("socket not closed after Close")
	}
	if err := <-col.closed; err != nil {
		t.Fatalf("Closed(%v)", err)
	}
	var n int
	loop.onLoop(func() { n = s.OutboundBuffered() })
	if n != 0 {
		t.Fatalf("OutboundBuffered = %d after close", n)
	}
}

// TestStreamPeerClose: the peer hanging up ends in Closed with an error, after the input it
// sent.
func TestStreamPeerClose(t *testing.T) {
	loop := newFakeLoop(t)
	a, b := net.Pipe()
	col := &collector{rnd: rand.New(rand.NewSource(1)), closed: make(chan error, 1)}
	s := NewStream(a, loop, col)
	col.s = s
	go s.Run()
	_, _ = b.Write([]byte("last words"))
	b.Close()
	select {
	case err := <-col.closed:
		if err == nil {
			t.Fatal("Closed(nil) after the peer hung up")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Closed")
	}
	var got string
	loop.onLoop(func() {
		col.Input()
		got = col.got.String() + string(mustPeek(s))
	})
	if got != "last words" {
		t.Fatalf("input %q", got)
	}
}

func mustPeek(s *Stream) []byte { b, _ := s.Peek(-1); return b }

// TestStreamCloseAfterRound: output written after Close in the same loop callback still goes
// out, and CloseAfter's last piece follows it, before the socket closes.
func TestStreamCloseAfterRound(t *testing.T) {
	for _, last := range []string{"", "LAST"} {
		loop := newFakeLoop(t)
		a, b := net.Pipe()
		col := &collector{rnd: rand.New(rand.NewSource(1)), closed: make(chan error, 1)}
		s := NewStream(a, loop, col)
		col.s = s
		go s.Run()
		got := make(chan []byte)
		go func() {
			all, _ := io.ReadAll(b)
			got <- all
		}()
		loop.onLoop(func() {
			_, _ = s.Write([]byte("before "))
			if last == "" {
				_ = s.Close()
			} else {
				_ = s.CloseAfter([]byte(last))
			}
			if _, err := s.Writev([][]byte{[]byte("after "), []byte("close")}); err != nil {
				t.Errorf("Writev in the closing callback: %v", err)
			}
		})
		select {
		case all := <-got:
			if want := "before after close" + last; string(all) != want {
				t.Fatalf("output %q, want %q", all, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("socket not closed after Close")
		}
		if err := <-col.closed; err != nil {
			t.Fatalf("Closed(%v)", err)
		}
	}
}

// TestStreamReadBufferFollowsTraffic: an idle stream reads with its small buffer; a burst of
// large input takes a pooled large one, given back once reads are small again.
func TestStreamReadBufferFollowsTraffic(t *testing.T) {
	loop := newFakeLoop(t)
	a, b := net.Pipe()
	col := &collector{rnd: rand.New(rand.NewSource(1)), closed: make(chan error, 1)}
	s := NewStream(a, loop, col)
	col.s = s
	go s.Run()
	total := 0
	send := func(k int) {
		t.Helper()
		if _, err := b.Write(bytes.Repeat([]byte{'x'}, k)); err != nil {
			t.Fatal(err)
		}
		total += k
		waitGot(t, loop, col, total)
	}
	send(100)
	if s.holdsLarge.Load() {
		t.Fatal("a small read took the large buffer")
	}
	send(64 << 10) // net.Pipe hands it over in reads as large as the buffer
	if !s.holdsLarge.Load() {
		t.Fatal("a burst is read with the small buffer")
	}
	send(10)
	deadline := time.Now().Add(5 * time.Second)
	for s.holdsLarge.Load() { // the reader lets go of it right after handing the bytes over
		if time.Now().After(deadline) {
			t.Fatal("the large buffer is held after the burst")
		}
		time.Sleep(time.Millisecond)
	}
	loop.onLoop(func() { _ = s.Close() })
	<-col.closed
}

func waitGot(t *testing.T, loop *fakeLoop, col *collector, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got int
		loop.onLoop(func() { col.Input(); got = col.got.Len() })
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d bytes", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
