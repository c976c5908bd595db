package sessions

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// TestMessageBlock builds more messages than a block holds, of sizes on both sides of the
// shared buffer's limit, and checks that each keeps its own bytes, is unpooled, and that
// Hold and Release leave it alone.
func TestMessageBlock(t *testing.T) {
	var b MessageBlock
	var msgs []*Message
	var want [][]byte
	for i := range 3*blockMessages + 5 {
		payload := bytes.Repeat([]byte{byte(i)}, i*37%(blockBytes/2))
		p := codec.Publish{QoS: uint8(i % 3), Topic: []byte(fmt.Sprintf("t/%d", i)), Payload: payload}
		if i%7 == 0 {
			p.Props.SetContentType([]byte("text/plain"))
		}
		m := b.New(&p, p.Topic, "c", int64(i))
		m.Hold()
		m.Release()
		m.Release()
		msgs = append(msgs, m)
		want = append(want, payload)
		p.Topic[0], p.Payload = 'x', nil // the message owns copies
	}
	for i, m := range msgs {
		if m.Pooled() {
			t.Fatalf("message %d is pooled", i)
		}
		if string(m.Topic) != fmt.Sprintf("t/%d", i) || !bytes.Equal(m.Payload, want[i]) || m.Created != int64(i) || m.From != "c" {
			t.Fatalf("message %d: topic %q payload %d bytes created %d", i, m.Topic, len(m.Payload), m.Created)
		}
		if (i%7 == 0) != (m.Props != nil) || m.Props != nil && string(m.Props.ContentType) != "text/plain" {
			t.Fatalf("message %d: properties %+v", i, m.Props)
		}
		if cap(m.Topic) != len(m.Topic) || cap(m.Payload) != len(m.Payload) {
			t.Fatalf("message %d: an append to its bytes would overwrite the next message", i)
		}
	}
}
