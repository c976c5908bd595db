package sessions

import (
	"errors"
	"reflect"
	"testing"

	"github.com/emqgo/emqgo/sessions/kvlog"
	"github.com/emqgo/emqgo/trie"
)

// damaged calls check with every truncation of b and with every single-bit flip of it.
func damaged(b []byte, check func([]byte)) {
	for i := range len(b) {
		check(b[:i])
	}
	for i := range len(b) * 8 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		check(c)
	}
}

func TestSessionStateEncoding(t *testing.T) {
	msgs := testMessages()
	for _, st := range []SessionState{
		{},
		{Created: 1_700_000_000_000_000_000, ExpiryInterval: NeverExpire, SeqBase: 3 << 32, StoreQoS0: true},
		{Created: -1, ExpiryInterval: 7, ExpiresAt: 1 << 61, UpgradeQoS: true, Will: msgs[0], WillAt: 12345},
		{ExpiryInterval: 1, Will: msgs[2], WillAt: -5},
	} {
		b := appendSessionState(nil, &st)
		got, err := decodeSessionState(b)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Will == nil) != (st.Will == nil) {
			t.Fatalf("will: %v, want %v", got.Will, st.Will)
		}
		if st.Will != nil {
			sameMessage(t, got.Will, st.Will)
		}
		gw, sw := got, st
		gw.Will, sw.Will = nil, nil
		if gw != sw {
			t.Fatalf("got %+v, want %+v", gw, sw)
		}
		if len(b) > 4096 {
			continue // the large payload adds nothing to the damage cases
		}
		damaged(b, func(d []byte) {
			if _, err := decodeSessionState(d); err != nil && !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
		})
	}
}

func TestSubEncoding(t *testing.T) {
	for _, o := range []trie.Options{{}, {QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, SubID: 268435455}, {QoS: 1, RetainHandling: 1, SubID: 1}} {
		b := appendSub(nil, o)
		got, err := decodeSub(b)
		if err != nil || got != o {
			t.Fatalf("got %+v %v, want %+v", got, err, o)
		}
		damaged(b, func(d []byte) {
			if _, err := decodeSub(d); err != nil && !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
		})
	}
}

func TestEntryEncoding(t *testing.T) {
	for _, c := range []struct {
		id    uint64
		q     Queued
		stage Stage
	}{
		{1, Queued{QoS: 1}, StageQueued},
		{1 << 40, Queued{QoS: 2, Retain: true, SubIDs: []uint32{1, 268435455}}, AwaitPubrec},
		{7, Queued{QoS: 1, SubIDs: []uint32{5}}, AwaitPuback},
		{0, Queued{QoS: 2, Retain: true}, AwaitPubcomp},
	} {
		b := appendEntry(nil, c.id, &c.q, c.stage)
		got, err := decodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		want := entryRec{msgID: c.id, qos: c.q.QoS, retain: c.q.Retain, stage: c.stage, subIDs: c.q.SubIDs}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		damaged(b, func(d []byte) {
			if _, err := decodeEntry(d); err != nil && !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
		})
	}
	// Inconsistent stages are refused.
	for _, bad := range []struct {
		id    uint64
		qos   uint8
		stage Stage
	}{{0, 1, StageQueued}, {1, 1, AwaitPubrec}, {1, 2, AwaitPubcomp}, {1, 0, StageQueued}, {1, 2, 4}} {
		if _, err := decodeEntry(appendEntry(nil, bad.id, &Queued{QoS: bad.qos}, bad.stage)); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

func FuzzDecodeSessionRecords(f *testing.F) {
	st := SessionState{ExpiryInterval: 3, Will: testMessages()[0]}
	f.Add(appendSessionState(nil, &st))
	f.Add(appendSub(nil, trie.Options{QoS: 1, SubID: 9}))
	f.Add(appendEntry(nil, 3, &Queued{QoS: 2, SubIDs: []uint32{1}}, AwaitPubrec))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeSessionState(b)
		_, _ = decodeSub(b)
		_, _ = decodeEntry(b)
	})
}

// TestStoreSessions writes two sessions' records through the Store, reopens it and checks
// Load: entries in sequence order with their messages shared and reference-counted, bodies
// written once, orphans and entries of an older incarnation deleted.
func TestStoreSessions(t *testing.T) {
	dir := t.TempDir()
	st, _, err := OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	msgs := testMessages()
	m1, m2 := msgs[0], msgs[3]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutSession("a", SessionState{Created: 1, ExpiryInterval: 60, SeqBase: 1 << 32}))
	must(st.PutSession("b", SessionState{Created: 2, ExpiryInterval: NeverExpire, UpgradeQoS: true, Will: msgs[1], WillAt: 99, SeqBase: 2 << 32}))
	must(st.PutSub("a", "x/#", trie.Options{QoS: 2, SubID: 4}))
	must(st.PutSub("a", "$share/g/y", trie.Options{QoS: 1}))
	must(st.PutSub("b", "x/#", trie.Options{QoS: 1, NoLocal: true}))
	a := uint64(1 << 32)
	b := uint64(2 << 32)
	must(st.PutEntry("a", a+3, &Queued{Msg: m2, QoS: 2}, StageQueued, true)) // min(2, m2's QoS 1) at load
	must(st.PutEntry("a", a+1, &Queued{Msg: m1, QoS: 1, SubIDs: []uint32{4}}, StageQueued, true))
	must(st.PutEntry("a", a+1, &Queued{Msg: m1, QoS: 1, SubIDs: []uint32{4}}, AwaitPuback, false))
	must(st.PutEntry("a", a+2, &Queued{Msg: m1, QoS: 1}, StageQueued, true))
	must(st.PutEntry("b", b+1, &Queued{Msg: m1, QoS: 1}, StageQueued, true))
	must(st.PutEntry("b", b+2, &Queued{Msg: m2, QoS: 2}, AwaitPubrec, true))
	must(st.PutEntry("b", b+2, &Queued{QoS: 2}, AwaitPubcomp, false))
	must(st.Release(m2))
	must(st.DeleteEntry("a", a+2, m1))
	if m1.Refs() != 2 || m2.Refs() != 1 {
		t.Fatalf("refs %d %d", m1.Refs(), m2.Refs())
	}
	must(st.PutPending("b", 7))
	must(st.PutPending("b", 65535))
	must(st.PutPending("gone", 1))
	must(st.PutSub("gone", "z", trie.Options{}))
	must(st.PutEntry("gone", 5, &Queued{Msg: msgs[4], QoS: 2}, StageQueued, true))
	must(st.PutEntry("a", 5, &Queued{Msg: msgs[4], QoS: 2}, StageQueued, true)) // older incarnation
	must(st.Close())

	st, _, err = OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]*LoadedSession{}
	ls, err := st.Load(func(string, *Message) { t.Fatal("no retained message was stored") }, func(s *LoadedSession) { got[s.ClientID] = s })
	if err != nil {
		t.Fatal(err)
	}
	if ls.Sessions != 2 || ls.Subs != 3 || ls.Entries != 4 || ls.Pending != 2 || ls.Messages != 2 || ls.Orphans != 5 || ls.Bad != 0 {
		t.Fatalf("stats %+v", ls)
	}
	sa, sb := got["a"], got["b"]
	if sa == nil || sb == nil || sa.State.ExpiryInterval != 60 || sb.State.Will == nil || sb.State.WillAt != 99 || !sb.State.UpgradeQoS {
		t.Fatalf("sessions %+v %+v", sa, sb)
	}
	if len(sa.Entries) != 2 || sa.Entries[0].Seq != a+1 || sa.Entries[0].Stage != AwaitPuback || sa.Entries[1].Seq != a+3 ||
		sa.Entries[1].QoS != 1 || sa.Entries[1].Stage != StageQueued || sa.MaxSeq != a+3 {
		t.Fatalf("entries of a: %+v", sa.Entries)
	}
	if !reflect.DeepEqual(sa.Entries[0].SubIDs, []uint32{4}) {
		t.Fatalf("sub ids %v", sa.Entries[0].SubIDs)
	}
	sameMessage(t, sa.Entries[0].Msg, m1)
	if sa.Entries[0].Msg != sb.Entries[0].Msg || sa.Entries[0].Msg.Refs() != 2 || sa.Entries[1].Msg.Refs() != 1 {
		t.Fatal("messages not shared or miscounted")
	}
	if len(sb.Entries) != 2 || sb.Entries[1].Stage != AwaitPubcomp || sb.Entries[1].Msg != nil || sb.Entries[1].QoS != 2 {
		t.Fatalf("entries of b: %+v", sb.Entries)
	}
	if len(sb.Pending) != 2 || len(sa.Subs) != 2 || sa.Subs[0].Filter != "x/#" || sa.Subs[0].Options.SubID != 4 {
		t.Fatalf("pending %v subs %v", sb.Pending, sa.Subs)
	}
	// New messages get identifiers past the stored ones.
	if id := st.msgID(&Message{}); id <= sa.Entries[1].Msg.id {
		t.Fatalf("new message id %d", id)
	}
	if err := st.Log().Sync(); err != nil {
		t.Fatal(err)
	}
	if s := st.Log().Stats(); s.LiveKeys != 2+3+4+2+2 {
		t.Fatalf("live keys %d after deleting orphans", s.LiveKeys)
	}
}
