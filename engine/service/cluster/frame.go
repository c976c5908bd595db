package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// Frames: the body of one NATS message that carries messages between nodes (forwarded to a
// node's subscribers, or retained messages replicated to every node). A frame is a sequence
// of records, each:
//
//	uvarint len(from)+1 from   the publisher's client id; a lone 0 instead means the
//	                           same client id as the record before in this frame
//	uvarint len(group) group   "" or the shared subscription filter the sender picked us for
//	uvarint len(pkt)   pkt     the message as an MQTT 5 PUBLISH packet: topic, payload, QoS,
//	                           RETAIN as published, the forwarded properties, what remains
//	                           of a Message Expiry Interval, and (QoS 1/2) the message's tag
//	                           as its packet identifier (tag.go)
//
// MQTT's own encoding carries every property exactly, and the receiver decodes it with the
// codec it already trusts; a PUBLISH without properties (the common case) is taken apart
// directly (framefast.go), since the sending node validated it when its client published.

// frameLimit is the size after which a sender starts a new frame. A backlog the sending
// goroutine takes at once leaves as several frames: each hop (the backbones' pipes, the
// route, the receiver's subscription) passes a frame whole, so a node starts routing the
// first part of a burst while the rest is on its way. 1 MB frames carried bursts of up to
// ~8,000 messages; 64 KB ones cost the sender more per message than they saved.
const frameLimit = 256 << 10

// appendRecord appends one record for msg delivered at qos with the RETAIN flag retain.
func appendRecord(dst []byte, msg *sessions.Message, qos uint8, retain bool, group string, now int64) []byte {
	return appendRecordAfter(dst, msg, qos, retain, group, now, false)
}

// appendRecordAfter is appendRecord for a record that follows one of the same publisher
// (sameFrom) in the frame: its client id is not repeated.
func appendRecordAfter(dst []byte, msg *sessions.Message, qos uint8, retain bool, group string, now int64, sameFrom bool) []byte {
	if msg.Props == nil && msg.Expiry == 0 {
		return appendPlainRecord(dst, msg, qos, retain, group, sameFrom)
	}
	p := codec.Publish{QoS: qos, Retain: retain, Topic: msg.Topic, Payload: msg.Payload}
	if qos > 0 {
		p.PacketID = tagOf(msg) // the message's tag between nodes (tag.go)
	}
	if msg.Props != nil {
		p.Props = *msg.Props // a copy: the message is shared and read-only
	}
	if msg.Expiry != 0 {
		left := (msg.Expiry - now + int64(time.Second) - 1) / int64(time.Second)
		p.Props.SetMessageExpiry(uint32(max(left, 1)))
	}
	dst = appendFrom(dst, msg.From, sameFrom)
	dst = binary.AppendUvarint(dst, uint64(len(group)))
	dst = append(dst, group...)
	start := len(dst)
	dst = binary.AppendUvarint(dst, 0) // placeholder of one byte, fixed below
	pkt := codec.AppendPublish(dst, &p, codec.V5)
	size := len(pkt) - start - 1
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(size))
	if k == 1 {
		pkt[start] = lb[0]
		return pkt
	}
	// Move the packet to make room for a longer length.
	pkt = append(pkt, lb[:k-1]...)
	copy(pkt[start+k:], pkt[start+1:start+1+size])
	copy(pkt[start:], lb[:k])
	return pkt
}

var errFrame = errors.New("cluster: malformed frame")

// record is one decoded record; its byte fields alias the frame.
type record struct {
	from  string
	group string
	pub   codec.Publish
	// full says pub went through codec's Decode (it has properties): clearing it then costs a
	// whole Reset, otherwise only its slices.
	full bool
}

// clear drops the record's references to its frame, keeping it ready for reuse.
func (r *record) clear() {
	if r.full {
		r.pub.Reset()
		r.full = false
		return
	}
	r.pub.Topic, r.pub.Payload = nil, nil
}

// nextRecord decodes the record at the start of b into r and returns the rest of b. prev,
// when not nil, is the record before: its strings are reused when they are the same (a run of
// one publisher's messages costs one string).
func nextRecord(b []byte, r *record, prev *record) ([]byte, error) {
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errFrame
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, nil
	}
	fromLen, k := binary.Uvarint(b)
	if k <= 0 || fromLen > uint64(len(b)-k)+1 {
		return nil, errFrame
	}
	b = b[k:]
	var from []byte
	if fromLen == 0 {
		if prev == nil {
			return nil, errFrame // "the same as before" in a frame's first record
		}
	} else {
		from, b = b[:fromLen-1], b[fromLen-1:]
	}
	group, err := field()
	if err != nil {
		return nil, err
	}
	pkt, err := field()
	if err != nil {
		return nil, err
	}
	if prev != nil && (fromLen == 0 || prev.from == string(from)) { // compared without a copy
		r.from = prev.from
	} else {
		r.from = string(from)
	}
	if prev != nil && prev.group == string(group) {
		r.group = prev.group
	} else {
		r.group = string(group)
	}
	if err := r.decode(pkt); err != nil {
		return nil, fmt.Errorf("cluster: bad PUBLISH in a frame: %w", err)
	}
	return b, nil
}
