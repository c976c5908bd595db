package sessions

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// The window is a ring: against a plain slice model, random adds and removes (mostly the
// oldest, sometimes any) keep the same entries in the same order.
func TestWindowRingAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w Window
	var model []uint16
	next := uint16(1)
	for step := range 20000 {
		if len(model) < 200 && (len(model) == 0 || rng.IntN(2) == 0) {
			w.Add(Inflight{PacketID: next})
			model = append(model, next)
			next++
			if next == 0 {
				next = 1
			}
		} else {
			i := 0
			if rng.IntN(4) == 0 {
				i = rng.IntN(len(model))
			}
			id := model[i]
			f, ok := w.Remove(id)
			if !ok || f.PacketID != id {
				t.Fatalf("step %d: Remove(%d) = %v, %v", step, id, f.PacketID, ok)
			}
			model = append(model[:i], model[i+1:]...)
		}
		if w.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", step, w.Len(), len(model))
		}
		k := 0
		w.Each(func(f *Inflight) bool {
			if f.PacketID != model[k] {
				t.Fatalf("step %d: entry %d is %d, want %d", step, k, f.PacketID, model[k])
			}
			k++
			return true
		})
		if len(model) > 0 && w.Find(model[len(model)-1]) == nil {
			t.Fatalf("step %d: newest entry not found", step)
		}
		for _, probe := range [...]uint16{next, next - 1, next - 64, next - 128, model0(model)} {
			want := false
			for _, id := range model {
				want = want || id == probe
			}
			if got := w.InUse(probe); got != want {
				t.Fatalf("step %d: InUse(%d) = %v, want %v", step, probe, got, want)
			}
		}
	}
	if _, ok := w.Remove(60000); ok {
		t.Fatal("removed an identifier that is not in flight")
	}
}

func model0(m []uint16) uint16 {
	if len(m) == 0 {
		return 1
	}
	return m[0]
}

// A pooled message goes back to the pool only after its last holder released it, and a
// pinned one never does.
func TestPooledMessageHolds(t *testing.T) {
	p := &codec.Publish{Topic: []byte("a/b"), QoS: 1, Payload: bytes.Repeat([]byte("x"), 3000)}
	m := NewPooledMessage(p, p.Topic, "c1", 1)
	if !m.Pooled() || string(m.Topic) != "a/b" || !bytes.Equal(m.Payload, p.Payload) || m.From != "c1" {
		t.Fatalf("message %q %d bytes from %q", m.Topic, len(m.Payload), m.From)
	}
	m.Hold()
	m.Release()
	if len(m.Payload) != 3000 {
		t.Fatal("released while still held")
	}
	var w Window
	w.Add(Inflight{Queued: Queued{Msg: m}, PacketID: 1})
	m.Release() // the publisher's hold
	if len(m.Payload) != 3000 {
		t.Fatal("released while in the window")
	}
	f, _ := w.Remove(1)
	f.Msg.Release()
	if m.Payload != nil || m.holds != 0 {
		t.Fatal("not returned to the pool after the last release")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a release more than held did not panic")
		}
	}()
	m.Release()
}

func TestPinnedMessageStaysOutOfPool(t *testing.T) {
	p := &codec.Publish{Topic: []byte("t"), Payload: []byte("hello")}
	m := NewPooledMessage(p, p.Topic, "", 1)
	var q Queue
	q.Push(Queued{Msg: m})
	m.Release()
	if string(m.Payload) != "hello" {
		t.Fatal("a queued message went back to the pool")
	}
	big := &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 1<<20)}
	if NewPooledMessage(big, big.Topic, "", 1).Pooled() {
		t.Fatal("a 1 MiB message came from the pool")
	}
	plain := NewMessage(p, p.Topic, "", 1)
	plain.Release() // no-op on messages not from the pool
	if string(plain.Payload) != "hello" {
		t.Fatal("Release changed a message not from the pool")
	}
}

// Past 255 entries in one identifier bucket the window stops trusting its filter and scans;
// once empty it trusts it again.
func TestWindowInUseSaturated(t *testing.T) {
	var w Window
	for i := 1; i <= 300; i++ {
		w.Add(Inflight{PacketID: uint16(i * 64)})
	}
	for i := 1; i <= 300; i++ {
		if !w.InUse(uint16(i * 64)) {
			t.Fatalf("%d not in use", i*64)
		}
	}
	if w.InUse(65) || w.InUse(64*301) {
		t.Fatal("an identifier never added is in use")
	}
	for i := 300; i >= 1; i-- { // newest first: every removal moves the older entries
		if _, ok := w.Remove(uint16(i * 64)); !ok {
			t.Fatalf("%d not removed", i*64)
		}
		if w.InUse(uint16(i * 64)) {
			t.Fatalf("%d still in use after removal", i*64)
		}
	}
	w.Add(Inflight{PacketID: 7})
	if !w.InUse(7) || w.InUse(64) || w.r.full {
		t.Fatal("the filter did not reset when the window emptied")
	}
}
