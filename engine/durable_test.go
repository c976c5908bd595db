package engine

import (
	"testing"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// Queuing a QoS 1 delivery for a session that is not durable allocates nothing: the
// durability steps sit behind the session's Durable flag, and no delivery is passed to them by
// pointer (which would move it to the heap on every call, durable or not).
func TestNonDurableDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	n := &Node{cfg: &Config{}}
	n.initDurability()
	l := &loop{n: n}
	s := sessions.New("s", 0)
	msg := sessions.NewMessage(&codec.Publish{QoS: 1, Topic: []byte("t")}, []byte("t"), "p", 0)
	step := func() {
		s.Lock()
		l.apply(s, msg, 1, false, nil, 0, 0) // offline: queued
		q, _ := s.Queue.Pop()
		s.Unlock()
		q.Msg.Release()
	}
	step() // the queue's ring
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Fatalf("%.1f allocations per queued non-durable delivery, want 0", allocs)
	}
}
