package sessions

import (
	"sync"
	"sync/atomic"

	"github.com/emqgo/emqgo/codec"
)

// Message is one application message as the broker routes it: built once per publish from
// the decoded PUBLISH (one copy of every byte), then shared read-only by every session it is
// queued in, on every loop. Never modify a Message after NewMessage returns it.
type Message struct {
	Topic   []byte
	Payload []byte
	// Props are the MQTT 5 properties forwarded to subscribers unchanged (payload format,
	// content type, response topic, correlation data, user properties), nil when none. The
	// message expiry is kept in Expiry instead, so that each delivery sends what remains.
	Props *codec.Properties
	// From is the client identifier of the publisher ("" for messages the broker itself
	// publishes), for No Local, ignore_loop_deliver and the hash shared strategy.
	From string
	// QoS and Retain are as published.
	QoS    uint8
	Retain bool
	// PeerTag is the tag another node of a cluster gave the message when it forwarded it here
	// (0: none), so that copies of one message that reach a session by two ways while it
	// moves between nodes are recognised. The engine only carries it.
	PeerTag uint16
	// Created is when the broker received the message (unix nanoseconds).
	Created int64
	// Expiry is when the message expires (unix nanoseconds), 0 for never (MQTT 5 Message
	// Expiry Interval, or the retainer's expiry for retained copies).
	Expiry int64

	// id and refs belong to the durable store (Store.PutEntry): the message's identifier in
	// the store, 0 until first stored, and how many stored session entries reference its
	// body. Accessed atomically. A Message may be copied only before it is first stored.
	id   uint64
	refs int32

	// Pooled messages only (see NewPooledMessage): holds counts transient holders and pins,
	// accessed atomically; class is the pool class + 1 (0: not pooled); buf is the backing
	// buffer that Topic, Payload and the property bytes are cut from.
	holds int64
	class int8
	buf   []byte
	slab  *blockSlab // MessageBlock's messages only (class classBlock)
}

// forwarded lists the properties of an inbound PUBLISH that subscribers receive.
var forwarded = [...]codec.PropertyID{codec.PropPayloadFormat, codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData}

// NewMessage copies a decoded PUBLISH (whose bytes are borrowed from a read buffer) into a
// Message that owns its bytes: topic, payload and property bytes share one allocation.
// topic is the effective topic (after topic-alias resolution and mountpoint), which may
// differ from p.Topic. now is the receive time in unix nanoseconds.
func NewMessage(p *codec.Publish, topic []byte, from string, now int64) *Message {
	m := &Message{}
	size, hasProps := messageSize(p, topic)
	m.fill(p, topic, from, now, make([]byte, 0, size), hasProps)
	return m
}

// messageSize returns the bytes a Message built from p needs, and whether p has properties
// that subscribers receive.
func messageSize(p *codec.Publish, topic []byte) (size int, hasProps bool) {
	pr := &p.Props
	size = len(topic) + len(p.Payload)
	hasProps = len(pr.User) > 0
	for _, id := range forwarded {
		if pr.Has(id) {
			hasProps = true
		}
	}
	if hasProps {
		size += len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData)
		for _, u := range pr.User {
			size += len(u.Key) + len(u.Value)
		}
	}
	return size, hasProps
}

// fill sets m from p, copying every byte into buf (whose capacity is at least messageSize's
// size); hasProps is messageSize's answer.
func (m *Message) fill(p *codec.Publish, topic []byte, from string, now int64, buf []byte, hasProps bool) {
	pr := &p.Props
	take := func(b []byte) []byte {
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	m.From, m.QoS, m.Retain, m.Created = from, p.QoS, p.Retain, now
	m.Topic = take(topic)
	m.Payload = take(p.Payload)
	if pr.Has(codec.PropMessageExpiry) && pr.MessageExpiry > 0 {
		m.Expiry = now + int64(pr.MessageExpiry)*1e9
	}
	if hasProps {
		var np codec.Properties
		if pr.Has(codec.PropPayloadFormat) {
			np.SetPayloadFormat(pr.PayloadFormat)
		}
		if pr.Has(codec.PropContentType) {
			np.SetContentType(take(pr.ContentType))
		}
		if pr.Has(codec.PropResponseTopic) {
			np.SetResponseTopic(take(pr.ResponseTopic))
		}
		if pr.Has(codec.PropCorrelationData) {
			np.SetCorrelationData(take(pr.CorrelationData))
		}
		if len(pr.User) > 0 {
			np.User = make([]codec.UserProperty, len(pr.User))
			for i, u := range pr.User {
				np.User[i] = codec.UserProperty{Key: take(u.Key), Value: take(u.Value)}
			}
		}
		m.Props = &np
	}
}

// Pooled messages.
//
// The message of a PUBLISH that only passes through (QoS 0 to online subscribers, the
// common case at high rates) lives for one event-loop round or two. Allocating its bytes
// per publish made allocation and garbage collection a third of the broker's CPU time at
// 4 KiB payloads, so the engine takes such messages from a pool and gives them back when the
// last holder is done:
//
//   - NewPooledMessage returns a message with one hold, the publisher's.
//   - A holder that keeps the message only for a while (a delivery on its way to another
//     loop, a payload waiting in a writev batch) calls Hold and later Release.
//   - A holder that may keep it for good (the retained index, a delayed will) calls Pin: the
//     message is then never reused and the garbage collector frees it as it frees any other.
//   - A session's queue and inflight window hold their messages (Queue.Push, Window.Add) and
//     hand the hold to whoever takes the entry out (Queue.Pop, a dropped oldest entry,
//     Window.Remove), who releases it when done.
//
// Forgetting a Release only costs the reuse; forgetting a Hold or Pin lets the bytes be
// overwritten by the next publish, so every structure that stores a *Message must hold or
// pin it. Queue.Push, Queue.PushFront and Window.Add do that themselves. Messages from NewMessage
// are not pooled, and Hold, Pin and Release do nothing on them.

// poolClasses are the buffer capacities of the pool classes; larger messages are not pooled.
var poolClasses = [...]int{128, 256, 512, 1024, 2048, 4096 + 512, 8192 + 512, 16384 + 512, 32768 + 512, 65536 + 512}

var messagePools [len(poolClasses)]sync.Pool

// NewPooledMessage is NewMessage for a message the engine routes and then releases: it comes
// from the pool with one hold, which the caller gives back with Release.
func NewPooledMessage(p *codec.Publish, topic []byte, from string, now int64) *Message {
	size, hasProps := messageSize(p, topic)
	class := -1
	for i, c := range poolClasses {
		if size <= c {
			class = i
			break
		}
	}
	if class < 0 {
		m := &Message{}
		m.fill(p, topic, from, now, make([]byte, 0, size), hasProps)
		return m
	}
	m, _ := messagePools[class].Get().(*Message)
	if m == nil {
		m = &Message{class: int8(class + 1), buf: make([]byte, 0, poolClasses[class])}
	}
	m.holds = 1
	m.fill(p, topic, from, now, m.buf[:0], hasProps)
	return m
}

// Hold registers one more transient holder of a pooled message.
func (m *Message) Hold() {
	if m.class != 0 {
		atomic.AddInt64(&m.holds, 1)
	}
}

// Pin keeps a pooled message out of the pool for good (see the pooled messages above).
func (m *Message) Pin() {
	if m.class != 0 {
		atomic.AddInt64(&m.holds, 1)
	}
}

// Release gives back one hold; the last one returns the message to the pool. The caller must
// not touch the message afterwards. A nil message is allowed.
func (m *Message) Release() {
	if m == nil || m.class == 0 {
		return
	}
	// The sole holder gives its hold back without a locked instruction: only a holder may
	// take another hold, so a count of one cannot change under it. The locked decrement
	// also waits for every store before it to reach the cache (the message's bytes just
	// written, an output buffer just filled), which made Release a tenth of a forwarding
	// node's CPU; the load does not wait.
	if atomic.LoadInt64(&m.holds) != 1 {
		switch n := atomic.AddInt64(&m.holds, -1); {
		case n > 0:
			return
		case n < 0:
			panic("sessions: Message released more often than held")
		}
	}
	if m.class == classBlock {
		m.releaseBlock()
		return
	}
	class := m.class
	buf := m.buf
	poison(buf[:cap(buf)])
	*m = Message{class: class, buf: buf[:0]}
	messagePools[class-1].Put(m)
}

// Share returns an unpooled copy of m that shares its bytes (for a copy with different
// metadata), pinning m so that the bytes are never reused. Call it before m is first stored
// and before other loops can see it.
func (m *Message) Share() *Message {
	m.Pin()
	cp := &Message{}
	*cp = *m
	cp.holds, cp.class, cp.buf, cp.slab, cp.id, cp.refs = 0, 0, nil, nil, 0, 0
	return cp
}

// Pooled reports whether m came from the pool (tests).
func (m *Message) Pooled() bool { return m.class != 0 }

// Expired reports whether the message has expired at unix-nanosecond time now.
func (m *Message) Expired(now int64) bool { return m.Expiry != 0 && now >= m.Expiry }

// RemainingExpiry returns the Message Expiry Interval to send at time now, in seconds
// (rounded up, at least 1), and false when the message has no expiry.
func (m *Message) RemainingExpiry(now int64) (uint32, bool) {
	if m.Expiry == 0 {
		return 0, false
	}
	left := m.Expiry - now
	if left <= 0 {
		return 1, true
	}
	return uint32((left + 1e9 - 1) / 1e9), true
}

// Size returns the bytes the message holds, for limits and metrics.
func (m *Message) Size() int { return len(m.Topic) + len(m.Payload) }

// Messages built in blocks.
//
// A message another node forwarded is built on the goroutine that receives the node's frames
// and released on the event loops, on other cores. Taken from the pool, each cost a steal
// from another processor's pool and a put back there; unpooled, the receiving node allocated
// ~240 bytes per message and spent a third of its CPU collecting them (its live heap is
// small, so each few megabytes allocated start a collection). A MessageBlock builds messages
// in slabs of blockMessages structs and blockBytes of bytes that it reuses: each message
// follows the pooled messages' rules (Hold, Pin, Release), its last Release gives its place
// back to the slab, and the slab's last place returns the slab to its MessageBlock. A
// message kept long (queued for an offline session) keeps its slab out of reuse, not in
// memory: a slab held by nothing is freed by the collector. A held message keeps its whole
// slab (~18 KB) in memory, so one that may wait long (queued for an offline session) is
// copied out of it first (Detach).

// blockMessages is how many messages a slab holds.
const blockMessages = 64

// blockBytes is the size of a slab's bytes (a larger message gets its own).
const blockBytes = 8 << 10

// blockFreeMax bounds the free slabs a MessageBlock keeps (~1 MB).
const blockFreeMax = 64

// classBlock marks a message of a MessageBlock's slab (Message.class).
const classBlock = -1

type blockSlab struct {
	msgs [blockMessages]Message
	buf  []byte
	// live counts the places not given back: blockMessages+1 when the slab starts serving
	// (its builder's own hold), less the unused places and that hold when it is done.
	live  atomic.Int32
	owner *MessageBlock
}

// MessageBlock builds messages in reused slabs. New must not be called concurrently; the
// messages may be released on any goroutine.
type MessageBlock struct {
	cur  *blockSlab
	used int // messages of cur handed out
	off  int // bytes of cur.buf used

	mu   sync.Mutex
	free []*blockSlab
}

// New is NewPooledMessage with the message cut from the block's current slab.
func (b *MessageBlock) New(p *codec.Publish, topic []byte, from string, now int64) *Message {
	size, hasProps := messageSize(p, topic)
	big := size > blockBytes/4
	if b.cur == nil || b.used == blockMessages || !big && b.off+size > blockBytes {
		b.next()
	}
	sl := b.cur
	m := &sl.msgs[b.used]
	b.used++
	m.class, m.slab, m.holds = classBlock, sl, 1
	var buf []byte
	if big {
		buf = make([]byte, 0, size)
	} else {
		buf = sl.buf[b.off : b.off : b.off+size]
		b.off += size
	}
	m.buf = buf
	m.fill(p, topic, from, now, buf, hasProps)
	return m
}

// next finishes the current slab and starts another.
func (b *MessageBlock) next() {
	if sl := b.cur; sl != nil {
		sl.done(int32(blockMessages - b.used + 1))
	}
	b.mu.Lock()
	var sl *blockSlab
	if n := len(b.free); n > 0 {
		sl = b.free[n-1]
		b.free[n-1] = nil
		b.free = b.free[:n-1]
	}
	b.mu.Unlock()
	if sl == nil {
		sl = &blockSlab{buf: make([]byte, blockBytes), owner: b}
	}
	sl.live.Store(blockMessages + 1)
	b.cur, b.used, b.off = sl, 0, 0
}

// done gives back n places of the slab; the last one returns it to its MessageBlock.
func (sl *blockSlab) done(n int32) {
	switch left := sl.live.Add(-n); {
	case left > 0:
		return
	case left < 0:
		panic("sessions: a slab's message released more often than held")
	}
	b := sl.owner
	b.mu.Lock()
	if len(b.free) < blockFreeMax {
		b.free = append(b.free, sl)
	}
	b.mu.Unlock()
}

// releaseBlock is Release's end for a message of a slab whose last hold went.
func (m *Message) releaseBlock() {
	sl := m.slab
	poison(m.buf[:cap(m.buf)])
	*m = Message{}
	sl.done(1)
}

// Detach returns m when it is not a MessageBlock's message, or else a pooled copy of it with
// one hold (the caller's, to release), so that a holder that may keep it long does not keep
// its whole slab in memory. Call it before the message is first stored.
func (m *Message) Detach() *Message {
	if m == nil || m.class != classBlock {
		return m
	}
	p := codec.Publish{QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if m.Props != nil {
		p.Props = *m.Props
	}
	cp := NewPooledMessage(&p, m.Topic, m.From, m.Created)
	cp.Expiry, cp.PeerTag = m.Expiry, m.PeerTag
	return cp
}
