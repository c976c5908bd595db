package sessions

import (
	"testing"

	"github.com/emqgo/emqgo/codec"
)

func msg(payload string) *Message {
	return &Message{Topic: []byte("t"), Payload: []byte(payload)}
}

func TestQueueDropOldestAndOrder(t *testing.T) {
	var q Queue
	q.SetLimit(3)
	drops := 0
	for i := range 10 {
		if old, dropped := q.Push(Queued{Msg: msg(string(rune('a' + i)))}); dropped {
			drops++
			if want := string(rune('a' + i - 3)); string(old.Msg.Payload) != want {
				t.Fatalf("dropped %q, want the oldest %q", old.Msg.Payload, want)
			}
		}
	}
	if drops != 7 || q.Len() != 3 {
		t.Fatalf("drops %d len %d, want 7 and 3", drops, q.Len())
	}
	q.PushFront(Queued{Msg: msg("front")})
	var got string
	for {
		m, ok := q.Pop()
		if !ok {
			break
		}
		got += string(m.Msg.Payload) + " "
	}
	if got != "front h i j " {
		t.Fatalf("order %q", got)
	}
	// Unbounded queue grows and keeps order through wrap-around.
	var u Queue
	for i := range 1000 {
		u.Push(Queued{QoS: uint8(i % 3), Msg: msg("x")})
		if i%3 == 0 {
			u.Pop()
		}
	}
	if u.Len() != 666 {
		t.Fatalf("len %d", u.Len())
	}
	ones := 0
	u.Each(func(q Queued) bool {
		if q.QoS == 1 {
			ones++
		}
		return true
	})
	removed := u.Filter(func(q Queued) bool { return q.QoS != 1 })
	if removed != ones || u.Len() != 666-ones {
		t.Fatalf("filter removed %d left %d", removed, u.Len())
	}
	u.Each(func(q Queued) bool {
		if q.QoS == 1 {
			t.Fatal("filtered message still queued")
		}
		return true
	})
}

func TestWindowAndPacketIDs(t *testing.T) {
	var w Window
	w.SetCap(3)
	var ids IDs
	seen := map[uint16]bool{}
	for range 3 {
		id := ids.Next(&w)
		if id == 0 || seen[id] {
			t.Fatalf("id %d reused or zero", id)
		}
		seen[id] = true
		w.Add(Inflight{PacketID: id, Stage: AwaitPuback})
	}
	if !w.Full() {
		t.Fatal("window of 3 not full")
	}
	if _, ok := w.Remove(2); !ok || w.Full() || w.InUse(2) {
		t.Fatal("remove")
	}
	// Wrap-around skips identifiers still in flight and never yields 0.
	ids.last = 65534
	w.Add(Inflight{PacketID: 65535})
	if id := ids.Next(&w); id != 2 {
		t.Fatalf("after wrap got %d, want 2 (65535 and 1 in flight)", id)
	}
}

func TestPendingExpire(t *testing.T) {
	var p Pending
	p.Add(1, 100)
	p.Add(2, 200)
	p.Add(1, 999) // keeps the first time
	if !p.Has(1) || p.Len() != 2 {
		t.Fatal("add")
	}
	if n := p.Expire(150); n != 1 || p.Has(1) || !p.Has(2) {
		t.Fatalf("expire removed %d", n)
	}
	if !p.Remove(2) || p.Remove(2) || p.Len() != 0 {
		t.Fatal("remove")
	}
}

func TestNewMessageOwnsBytes(t *testing.T) {
	buf := []byte("topic/apayloadct")
	p := &codec.Publish{QoS: 1, Retain: true, Topic: buf[:7], Payload: buf[7:14]}
	p.Props.SetContentType(buf[14:16])
	p.Props.SetMessageExpiry(10)
	p.Props.SetTopicAlias(3)
	p.Props.AddUser(buf[0:1], buf[1:2])
	m := NewMessage(p, p.Topic, "c1", 1e9)
	for i := range buf {
		buf[i] = 'X' // the read buffer is reused
	}
	if string(m.Topic) != "topic/a" || string(m.Payload) != "payload" || string(m.Props.ContentType) != "ct" ||
		string(m.Props.User[0].Key) != "t" || string(m.Props.User[0].Value) != "o" {
		t.Fatalf("message aliases the buffer: %q %q %+v", m.Topic, m.Payload, m.Props)
	}
	if m.Props.Has(codec.PropTopicAlias) || m.Props.Has(codec.PropMessageExpiry) {
		t.Fatal("topic alias or expiry forwarded as a property")
	}
	if left, ok := m.RemainingExpiry(1e9 + 2.5e9); !ok || left != 8 {
		t.Fatalf("remaining expiry %d %v, want 8", left, ok)
	}
	if !m.Expired(11e9) || m.Expired(10e9) {
		t.Fatal("expiry")
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	a := New("a", 0)
	r.Update("a", func(old *Session) *Session {
		if old != nil {
			t.Fatal("not empty")
		}
		return a
	})
	r.Update("b", func(*Session) *Session { return New("b", 0) })
	if r.Get("a") != a || r.Len() != 2 || r.Max() != 2 {
		t.Fatal("get/len")
	}
	r.Update("a", func(*Session) *Session { return nil })
	if r.Get("a") != nil || r.Len() != 1 || r.Max() != 2 {
		t.Fatal("delete")
	}
	n := 0
	r.Range(func(*Session) bool { n++; return true })
	if n != 1 {
		t.Fatal("range")
	}
}
