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

// TestTransferTags: a QoS 1/2 message's tag between nodes comes with it (the tag it came
// with from another node, else the one this node gives it); QoS 0 messages have none.
func TestTransferTags(t *testing.T) {
	msgs := testMessages()
	peer := *msgs[3]
	peer.PeerTag = 4242
	s := New("c", 1)
	s.Window.Add(Inflight{Queued: Queued{Msg: msgs[0], QoS: 1}, PacketID: 3, Stage: AwaitPuback})
	s.Queue.Push(Queued{Msg: &peer, QoS: 1})
	s.Queue.Push(Queued{Msg: msgs[1], QoS: 0})
	tr, err := DecodeTransfer(EncodeTransfer(nil, s))
	if err != nil {
		t.Fatal(err)
	}
	got := []uint16{tr.Entries[0].Msg.PeerTag, tr.Entries[1].Msg.PeerTag, tr.Entries[2].Msg.PeerTag}
	if want := []uint16{msgs[0].Tag(), 4242, 0}; !reflect.DeepEqual(got, want) || want[0] == 0 {
		t.Fatalf("tags %v, want %v", got, want)
	}
}

// TestTransferVersion1: an older node's transfer (version 1: no tags) is still read, and a
// tag in a version 1 transfer is refused.
func TestTransferVersion1(t *testing.T) {
	msgs := testMessages()
	v1 := func(flags byte) []byte { // one subscription, one queued QoS 1 delivery
		b := []byte{transferVersionV1}
		b = appendBytes(b, []byte("old"))
		st := StateOf(New("old", 7))
		b = appendBytes(b, appendSessionState(nil, &st))
		b = append(b, 1)
		b = appendBytes(b, []byte("a/#"))
		b = appendBytes(b, appendSub(nil, trie.Options{QoS: 1}))
		b = append(b, 1, 0, byte(StageQueued), 1, flags, 0)
		b = appendBytes(b, appendMessage(nil, msgs[0]))
		if flags&tfTag != 0 {
			b = append(b, 9)
		}
		return append(b, 0)
	}
	tr, err := DecodeTransfer(v1(tfMsg))
	if err != nil {
		t.Fatal(err)
	}
	if tr.ClientID != "old" || len(tr.Subs) != 1 || len(tr.Entries) != 1 || tr.Entries[0].Msg.PeerTag != 0 {
		t.Fatalf("%+v", tr)
	}
	sameMessage(t, tr.Entries[0].Msg, msgs[0])
	if _, err := DecodeTransfer(v1(tfMsg | tfTag)); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("a tag in a version 1 transfer: %v", err)
	}
}
