package sessions

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

func blockPublish(i int) *codec.Publish {
	payload := bytes.Repeat([]byte{byte(i)}, i*37%(blockBytes/2))
	p := &codec.Publish{QoS: uint8(i % 3), Topic: []byte(fmt.Sprintf("t/%d", i)), Payload: payload}
	if i%7 == 0 {
		p.Props.SetContentType([]byte("text/plain"))
	}
	return p
}

func checkBlockMessage(t *testing.T, i int, m *Message) {
	t.Helper()
	want := blockPublish(i)
	if string(m.Topic) != string(want.Topic) || !bytes.Equal(m.Payload, want.Payload) || m.Created != int64(i) || m.From != "c" {
		t.Fatalf("message %d: topic %q payload %d bytes created %d", i, m.Topic, len(m.Payload), m.Created)
	}
	if (i%7 == 0) != (m.Props != nil) || m.Props != nil && string(m.Props.ContentType) != "text/plain" {
		t.Fatalf("message %d: properties %+v", i, m.Props)
	}
	if cap(m.Topic) != len(m.Topic) || cap(m.Payload) != len(m.Payload) {
		t.Fatalf("message %d: an append to its bytes would overwrite the next message", i)
	}
}

// TestMessageBlock builds more messages than a slab holds, of sizes on both sides of the
// slab's byte limit, checks that each keeps its own bytes while held, and that a slab whose
// messages were all released serves again while one held message keeps its own slab out of
// reuse.
func TestMessageBlock(t *testing.T) {
	var b MessageBlock
	var msgs []*Message
	n := 3*blockMessages + 5
	for i := range n {
		p := blockPublish(i)
		m := b.New(p, p.Topic, "c", int64(i))
		p.Topic[0], p.Payload = 'x', nil // the message owns copies
		if !m.Pooled() {
			t.Fatalf("message %d is not pooled", i)
		}
		m.Hold() // a delivery on its way
		msgs = append(msgs, m)
	}
	for i, m := range msgs {
		checkBlockMessage(t, i, m)
		m.Release() // the builder's hold
	}
	kept := msgs[1]
	slabs := map[*blockSlab]bool{}
	for _, m := range msgs {
		slabs[m.slab] = true
	}
	for _, m := range msgs {
		if m != kept {
			m.Release()
		}
	}
	b.next() // the current slab is done; the next one is a free one
	if len(b.free)+1 != len(slabs)-1 || !slabs[b.cur] {
		t.Fatalf("%d slabs free after releasing all but one message of %d slabs", len(b.free), len(slabs))
	}
	reused := map[*blockSlab]bool{}
	for _, sl := range b.free {
		reused[sl] = true
	}
	if reused[kept.slab] {
		t.Fatal("the slab of a held message is free")
	}
	for i := range n {
		p := blockPublish(i)
		m := b.New(p, p.Topic, "c", int64(i))
		checkBlockMessage(t, i, m)
		checkBlockMessage(t, 1, kept)
		m.Release()
	}
	sl := kept.slab
	kept.Release()
	if kept.slab != nil || kept.Topic != nil {
		t.Fatal("a released message keeps its references")
	}
	b.mu.Lock()
	back := false
	for _, f := range b.free {
		back = back || f == sl
	}
	b.mu.Unlock()
	if !back {
		t.Fatal("the held message's slab did not come back once it was released")
	}
}

// TestDetach: a block message copied out of its slab keeps its content, properties, expiry
// and tag, and no longer keeps the slab from serving again; other messages are returned as
// they are.
func TestDetach(t *testing.T) {
	var b MessageBlock
	p := blockPublish(7) // with a content type
	m := b.New(p, p.Topic, "c", 7)
	m.Expiry, m.PeerTag = 99, 5
	cp := m.Detach()
	if cp == m || cp.slab != nil || cp.class == classBlock {
		t.Fatal("a block message was not copied out of its slab")
	}
	sl := m.slab
	m.Release()
	b.next() // the slab is done: free, and taken again as the current one
	free := b.cur == sl
	b.mu.Lock()
	for _, f := range b.free {
		free = free || f == sl
	}
	b.mu.Unlock()
	if !free {
		t.Fatal("the slab of a detached message did not come back when the block message was released")
	}
	checkBlockMessage(t, 7, cp)
	if cp.Expiry != 99 || cp.PeerTag != 5 || cp.QoS != p.QoS {
		t.Fatalf("copy: expiry %d tag %d qos %d", cp.Expiry, cp.PeerTag, cp.QoS)
	}
	cp.Release()
	other := NewPooledMessage(p, p.Topic, "c", 7)
	if other.Detach() != other {
		t.Fatal("a pooled message was copied")
	}
	other.Release()
}
