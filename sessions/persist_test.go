package sessions

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

func testMessages() []*Message {
	var full codec.Properties
	full.SetPayloadFormat(1)
	full.SetContentType([]byte("text/plain"))
	full.SetResponseTopic([]byte("reply/here"))
	full.SetCorrelationData([]byte{0, 1, 2, 0xff})
	full.User = []codec.UserProperty{{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a"), Value: []byte("")}, {Key: []byte("b"), Value: []byte("1")}}
	var onlyUser codec.Properties
	onlyUser.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	var onlyCD codec.Properties
	onlyCD.SetCorrelationData([]byte("x"))
	return []*Message{
		{Topic: []byte("a/b"), Payload: []byte("hello"), QoS: 1, Retain: true, Created: 1_700_000_000_000_000_000, From: "c1"},
		{Topic: []byte("t"), Payload: []byte{0}, QoS: 0, Retain: true, Created: 1, Expiry: 2},
		{Topic: []byte("x/y/z"), Payload: bytes.Repeat([]byte("p"), 70000), Props: &full, QoS: 2, Retain: true, Created: 5, Expiry: 1 << 62, From: "ü-client"},
		{Topic: []byte("u"), Payload: []byte("1"), Props: &onlyUser, QoS: 1, Created: -3},
		{Topic: []byte("c"), Payload: []byte("2"), Props: &onlyCD, QoS: 2, Retain: true},
		{Topic: []byte("e"), Payload: []byte("3"), Props: &codec.Properties{}, Retain: true},
	}
}

func sameMessage(t *testing.T, got, want *Message) {
	t.Helper()
	if !bytes.Equal(got.Topic, want.Topic) || !bytes.Equal(got.Payload, want.Payload) || got.From != want.From ||
		got.QoS != want.QoS || got.Retain != want.Retain || got.Created != want.Created || got.Expiry != want.Expiry {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if (got.Props == nil) != (want.Props == nil) {
		t.Fatalf("props: got %v, want %v", got.Props, want.Props)
	}
	if want.Props == nil {
		return
	}
	for _, id := range forwarded {
		if got.Props.Has(id) != want.Props.Has(id) {
			t.Fatalf("property %v: has %v, want %v", id, got.Props.Has(id), want.Props.Has(id))
		}
	}
	g, w := got.Props, want.Props
	if g.PayloadFormat != w.PayloadFormat || !bytes.Equal(g.ContentType, w.ContentType) || !bytes.Equal(g.ResponseTopic, w.ResponseTopic) || !bytes.Equal(g.CorrelationData, w.CorrelationData) {
		t.Fatalf("props: got %+v, want %+v", g, w)
	}
	if len(g.User) != len(w.User) {
		t.Fatalf("user properties: got %d, want %d", len(g.User), len(w.User))
	}
	for i := range g.User {
		if !bytes.Equal(g.User[i].Key, w.User[i].Key) || !bytes.Equal(g.User[i].Value, w.User[i].Value) {
			t.Fatalf("user property %d: got %q=%q, want %q=%q", i, g.User[i].Key, g.User[i].Value, w.User[i].Key, w.User[i].Value)
		}
	}
}

func TestMessageEncodingRoundTrip(t *testing.T) {
	for i, m := range testMessages() {
		enc := appendMessage([]byte("prefix"), m)[len("prefix"):]
		got, err := decodeMessage(enc)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		sameMessage(t, got, m)
		// The decoded message owns its bytes.
		for j := range enc {
			enc[j] = 0xAA
		}
		sameMessage(t, got, m)
	}
}

func TestMessageDecodingDamage(t *testing.T) {
	for i, m := range testMessages() {
		enc := appendMessage(nil, m)
		// Every truncation is an error, never a panic.
		for n := range len(enc) {
			if n > 200 && n < len(enc)-10 {
				continue // the long payload: nothing new to learn in the middle
			}
			if _, err := decodeMessage(enc[:n]); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("message %d truncated to %d of %d: err %v", i, n, len(enc), err)
			}
		}
		if _, err := decodeMessage(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("message %d with a trailing byte: %v", i, err)
		}
		// Bit flips: an error or some message, never a panic.
		for pos := range min(len(enc), 64) {
			for bit := range 8 {
				b := bytes.Clone(enc)
				b[pos] ^= 1 << bit
				decodeMessage(b)
			}
		}
	}
	if _, err := decodeMessage([]byte{2, 0}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := decodeMessage([]byte{1, 3 << mfQoSShift, 0, 0, 0, 0, 0}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("QoS 3: %v", err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range testMessages()[:2] {
		f.Add(appendMessage(nil, m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if again := appendMessage(nil, m); !bytes.Equal(again, b) {
			m2, err := decodeMessage(again)
			if err != nil || !reflect.DeepEqual(m.Topic, m2.Topic) || !bytes.Equal(m.Payload, m2.Payload) {
				t.Fatalf("re-encoding differs: %x vs %x", again, b)
			}
		}
	})
}

func TestStoreRetained(t *testing.T) {
	dir := t.TempDir()
	st, _, err := OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	msgs := testMessages()
	for _, m := range msgs {
		if err := st.PutRetained(string(m.Topic), m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		m := &Message{Topic: fmt.Appendf(nil, "n/%d", i), Payload: []byte("v1"), Retain: true}
		st.PutRetained(string(m.Topic), m)
	}
	for i := range 100 {
		if i%2 == 0 {
			st.DeleteRetained(fmt.Sprintf("n/%d", i))
		} else {
			m := &Message{Topic: fmt.Appendf(nil, "n/%d", i), Payload: []byte("v2"), Retain: true}
			st.PutRetained(string(m.Topic), m)
		}
	}
	// A garbled value under a retained key and a record of another kind.
	st.Log().Put([]byte("rgarbled/topic"), []byte{1, 0, 0})
	st.Log().Put([]byte("sclient"), []byte("a session"))
	done := make(chan error, 1)
	st.Commit(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, _, err = OpenStore(dir, kvlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]*Message{}
	if err := st.LoadRetained(func(topic string, m *Message) { got[topic] = m }); err != nil {
		t.Fatal(err)
	}
	if st.Skipped() != 1 {
		t.Fatalf("skipped %d, want 1 (the garbled record)", st.Skipped())
	}
	if len(got) != len(msgs)+50 {
		t.Fatalf("loaded %d retained messages, want %d", len(got), len(msgs)+50)
	}
	for _, m := range msgs {
		sameMessage(t, got[string(m.Topic)], m)
	}
	for i := range 100 {
		m, ok := got[fmt.Sprintf("n/%d", i)]
		if ok != (i%2 == 1) || ok && string(m.Payload) != "v2" {
			t.Fatalf("n/%d: %v %+v", i, ok, m)
		}
	}
}
