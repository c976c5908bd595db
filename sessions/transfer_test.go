package sessions

import (
	"errors"
	"reflect"
	"testing"

	"github.com/emqgo/emqgo/trie"
)

func TestTransferRoundTrip(t *testing.T) {
	msgs := testMessages()
	s := New("client-1", 42)
	s.ExpiryInterval = 300
	s.StoreQoS0 = true
	s.DelayedWill, s.WillAt = msgs[1], 999
	s.Subscribe("a/#", trie.Options{QoS: 1, NoLocal: true, SubID: 7})
	s.Subscribe("$share/g/b/+", trie.Options{QoS: 2, RetainAsPublished: true, RetainHandling: 1})
	s.Window.SetCap(10)
	s.Window.Add(Inflight{Queued: Queued{Msg: msgs[0], QoS: 1, SubIDs: []uint32{7}}, PacketID: 5, Stage: AwaitPuback})
	s.Window.Add(Inflight{Queued: Queued{QoS: 2}, PacketID: 9, Stage: AwaitPubcomp})
	s.Window.Add(Inflight{Queued: Queued{Msg: msgs[2], QoS: 2, Retain: true}, PacketID: 65535, Stage: AwaitPubrec})
	s.Queue.Push(Queued{Msg: msgs[1], QoS: 0})
	s.Queue.Push(Queued{Msg: msgs[0], QoS: 1, SubIDs: []uint32{1, 2}})
	s.Pending.Add(17, 1)
	s.Pending.Add(65535, 1)

	b := EncodeTransfer(nil, s)
	tr, err := DecodeTransfer(b)
	if err != nil {
		t.Fatal(err)
	}
	if tr.ClientID != "client-1" || tr.State.ExpiryInterval != 300 || !tr.State.StoreQoS0 || tr.State.WillAt != 999 || tr.State.Created != 42 {
		t.Fatalf("state: %+v", tr.State)
	}
	sameMessage(t, tr.State.Will, msgs[1])
	if !reflect.DeepEqual(tr.Subs, s.Subs) {
		t.Fatalf("subs: %+v, want %+v", tr.Subs, s.Subs)
	}
	want := []struct {
		id    uint16
		stage Stage
		qos   uint8
		msg   *Message
		ids   []uint32
		ret   bool
	}{{5, AwaitPuback, 1, msgs[0], []uint32{7}, false}, {9, AwaitPubcomp, 2, nil, nil, false},
		{65535, AwaitPubrec, 2, msgs[2], nil, true}, {0, StageQueued, 0, msgs[1], nil, false}, {0, StageQueued, 1, msgs[0], []uint32{1, 2}, false}}
	if len(tr.Entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(tr.Entries), len(want))
	}
	for i, w := range want {
		e := tr.Entries[i]
		if e.PacketID != w.id || e.Stage != w.stage || e.QoS != w.qos || e.Retain != w.ret || !reflect.DeepEqual(e.SubIDs, w.ids) || (e.Msg == nil) != (w.msg == nil) {
			t.Fatalf("entry %d: %+v, want %+v", i, e, w)
		}
		if w.msg != nil {
			sameMessage(t, e.Msg, w.msg)
		}
	}
	if !reflect.DeepEqual(tr.Pending, []uint16{17, 65535}) {
		t.Fatalf("pending %v", tr.Pending)
	}
	small := New("c", 1)
	small.Subscribe("a", trie.Options{QoS: 1})
	small.Window.Add(Inflight{Queued: Queued{Msg: msgs[0], QoS: 1}, PacketID: 3, Stage: AwaitPuback})
	small.Queue.Push(Queued{Msg: msgs[0], QoS: 1})
	small.Pending.Add(4, 1)
	damaged(EncodeTransfer(nil, small), func(d []byte) {
		if _, err := DecodeTransfer(d); err != nil && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("error %v does not wrap ErrBadRecord", err)
		}
	})
}

func TestTransferEmpty(t *testing.T) {
	tr, err := DecodeTransfer(EncodeTransfer(nil, New("x", 1)))
	if err != nil || tr.ClientID != "x" || len(tr.Subs)+len(tr.Entries)+len(tr.Pending) != 0 {
		t.Fatalf("%+v %v", tr, err)
	}
}
