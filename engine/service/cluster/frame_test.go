package cluster

import (
	"bytes"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

func frameMsg(from, topic, payload string, qos byte, props *codec.Properties, now int64) *sessions.Message {
	p := codec.Publish{QoS: qos, Topic: []byte(topic), Payload: []byte(payload)}
	if props != nil {
		p.Props = *props
	}
	return sessions.NewMessage(&p, p.Topic, from, now)
}

// TestFrameRoundTrip writes plain records (the direct encoding), records with properties and
// an expiry (the codec's), runs of one publisher (the client id written once) and a record
// with a long payload (a two-byte length), and reads back exactly what was written.
func TestFrameRoundTrip(t *testing.T) {
	now := time.Now().UnixNano()
	var props codec.Properties
	props.SetContentType([]byte("text/plain"))
	props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	long := string(bytes.Repeat([]byte("x"), 70000))
	type want struct {
		from, group, topic, payload string
		qos                         byte
		retain, props               bool
		expiry                      uint32
	}
	msgs := []struct {
		m      *sessions.Message
		qos    byte
		retain bool
		group  string
		w      want
	}{
		{frameMsg("c1", "a/b", "one", 0, nil, now), 0, false, "", want{"c1", "", "a/b", "one", 0, false, false, 0}},
		{frameMsg("c1", "a/c", "two", 1, nil, now), 1, true, "", want{"c1", "", "a/c", "two", 1, true, false, 0}},
		{frameMsg("c1", "a/d", "", 2, &props, now), 2, false, "$share/g/a/#", want{"c1", "$share/g/a/#", "a/d", "", 2, false, true, 0}},
		{frameMsg("c2", "a/e", long, 1, nil, now), 1, false, "", want{"c2", "", "a/e", long, 1, false, false, 0}},
		{frameMsg("", "$SYS/x", "sys", 0, nil, now), 0, false, "", want{"", "", "$SYS/x", "sys", 0, false, false, 0}},
		{frameMsg("c3", "a/f", "three", 1, nil, now), 1, false, "", want{"c3", "", "a/f", "three", 1, false, false, 0}},
	}
	exp := frameMsg("c3", "a/g", "expiring", 1, nil, now)
	exp.Expiry = now + 10*int64(time.Second)
	msgs = append(msgs, struct {
		m      *sessions.Message
		qos    byte
		retain bool
		group  string
		w      want
	}{exp, 1, false, "", want{"c3", "", "a/g", "expiring", 1, false, true, 10}})
	// A plain record again after one with properties: the reused record must not keep them.
	msgs = append(msgs, msgs[0])

	var frame []byte
	for i, x := range msgs {
		same := i > 0 && msgs[i-1].m.From == x.m.From
		frame = appendRecordAfter(frame, x.m, x.qos, x.retain, x.group, now, same)
	}
	var r record
	var prevCopy record
	b := frame
	for i, x := range msgs {
		var prev *record
		if i > 0 {
			prev = &prevCopy
		}
		var err error
		if b, err = nextRecord(b, &r, prev); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		w := x.w
		p := &r.pub
		if r.from != w.from || r.group != w.group || string(p.Topic) != w.topic || string(p.Payload) != w.payload ||
			p.QoS != w.qos || p.Retain != w.retain || !p.Props.Empty() != w.props || p.Props.MessageExpiry != w.expiry {
			t.Fatalf("record %d: from %q group %q topic %q payload %d bytes qos %d retain %v props %v expiry %d; want %+v",
				i, r.from, r.group, p.Topic, len(p.Payload), p.QoS, p.Retain, !p.Props.Empty(), p.Props.MessageExpiry, w.from)
		}
		if w.props && w.expiry == 0 && (string(p.Props.ContentType) != "text/plain" || len(p.Props.User) != 1) {
			t.Fatalf("record %d: properties %+v", i, p.Props)
		}
		prevCopy = record{from: r.from, group: r.group}
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left after the last record", len(b))
	}
	r.clear()
	if r.pub.Topic != nil || r.pub.Payload != nil || !r.pub.Props.Empty() {
		t.Fatal("clear kept references to the frame")
	}
}

// TestFrameMalformed: truncated and corrupted frames are refused, never read past their end.
func TestFrameMalformed(t *testing.T) {
	now := time.Now().UnixNano()
	m := frameMsg("client", "t/1", "payload", 1, nil, now)
	rec := appendRecord(nil, m, 1, false, "", now)
	for cut := 0; cut < len(rec); cut++ {
		var r record
		if _, err := nextRecord(rec[:cut], &r, nil); err == nil {
			t.Fatalf("a record cut at %d of %d bytes was accepted", cut, len(rec))
		}
	}
	// "Same client id as before" in a frame's first record.
	same := appendRecordAfter(nil, m, 1, false, "", now, true)
	var r record
	if _, err := nextRecord(same, &r, nil); err == nil {
		t.Fatal("a first record without a client id was accepted")
	}
	// Each byte of the PUBLISH corrupted: refused by the direct path or explained by Decode,
	// never a panic.
	start := len(rec) - (1 + 1 + 2 + 3 + 2 + 1 + 7) // fixed header, topic, id, props, payload
	for i := start; i < len(rec); i++ {
		for _, v := range []byte{0x00, 0x7F, 0x80, 0xFF} {
			bad := append([]byte(nil), rec...)
			bad[i] = v
			var r record
			nextRecord(bad, &r, nil)
		}
	}
	// QoS 3 and DUP on QoS 0 are refused.
	for _, first := range []byte{0x36, 0x38} {
		bad := append([]byte(nil), rec...)
		bad[start] = first
		var r record
		if _, err := nextRecord(bad, &r, nil); err == nil {
			t.Fatalf("first byte %#x accepted", first)
		}
	}
}

// BenchmarkFrame measures the per-message cost of the hop's framing: encoding a batch of
// 64 B QoS 0 messages into one frame and decoding it back.
func BenchmarkFrame(b *testing.B) {
	now := time.Now().UnixNano()
	msgs := make([]*sessions.Message, 1024)
	for i := range msgs {
		msgs[i] = frameMsg("bench-pub-1", "bench/p2p/1", string(bytes.Repeat([]byte("a"), 64)), 0, nil, now)
	}
	recs := make([]record, len(msgs))
	var frame []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N / len(msgs) {
		frame = frame[:0]
		for i, m := range msgs {
			frame = appendRecordAfter(frame, m, 0, false, "", now, i > 0)
		}
		rest := frame
		var prev *record
		for i := range recs {
			var err error
			if rest, err = nextRecord(rest, &recs[i], prev); err != nil {
				b.Fatal(err)
			}
			prev = &recs[i]
		}
		for i := range recs {
			recs[i].clear()
		}
	}
}
