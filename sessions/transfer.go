package sessions

import (
	"encoding/binary"
	"fmt"
)

// Session transfer: a whole session as one byte string, for moving it to another node of a
// cluster (a takeover there, or a persistent session resumed there). It reuses the store's
// encodings of the session state (expiry, delayed will), of subscription options and of
// messages (persist.go, sessionstore.go); unlike the store it keeps QoS 0 queued messages and
// the packet identifiers of the messages in flight, so that the client's retransmissions and
// acknowledgements match on the new node.
//
//	byte     transfer version (2; version 1, without tags, is still read)
//	bytes    client id
//	bytes    session state (appendSessionState)
//	uvarint  subscription count, each: bytes filter, bytes options (appendSub)
//	uvarint  delivery count, each: uvarint packet id (0: queued, not sent), byte stage
//	         (0 queued), byte QoS, byte flags (retain, message follows, tag follows),
//	         uvarint count of subscription ids and each, then bytes message (appendMessage)
//	         when flagged, then (version 2) uvarint tag when flagged
//	uvarint  count of inbound QoS 2 packet ids awaiting PUBREL, each uvarint
//
// Deliveries are in the order they would be sent: the inflight window first (oldest first),
// then the queue. A QoS 1/2 message's tag (tag.go) comes with it: the new node sets it as
// the message's PeerTag, so that a copy of it that reaches the session by another way is
// recognised there. Transfers are never stored: only another running node reads them.
// A version 1 transfer (an older node's) is read without tags; an older node refuses
// version 2 (unknown version), and its client starts a new session there (logged).

const (
	transferVersion   = 2
	transferVersionV1 = 1
)

// Delivery flags of a transfer.
const (
	tfRetain = 1 << 0
	tfMsg    = 1 << 1
	tfTag    = 1 << 2 // version 2
)

// TransferEntry is one delivery of a transferred session: queued (Stage StageQueued,
// PacketID 0) or in flight with its packet identifier.
type TransferEntry struct {
	Queued
	Stage    Stage
	PacketID uint16
}

// Transfer is a decoded session transfer. Its messages own their bytes.
type Transfer struct {
	ClientID string
	State    SessionState
	Subs     []Subscription
	Entries  []TransferEntry // window first, then queue, in sending order
	Pending  []uint16
}

// EncodeTransfer appends the transfer encoding of s to b. Hold s's lock.
func EncodeTransfer(b []byte, s *Session) []byte {
	b = append(b, transferVersion)
	b = appendBytes(b, []byte(s.ClientID))
	st := StateOf(s)
	b = appendBytes(b, appendSessionState(nil, &st))
	b = binary.AppendUvarint(b, uint64(len(s.Subs)))
	var tmp []byte
	for _, sub := range s.Subs {
		b = appendBytes(b, []byte(sub.Filter))
		tmp = appendSub(tmp[:0], sub.Options)
		b = appendBytes(b, tmp)
	}
	b = binary.AppendUvarint(b, uint64(s.Window.Len()+s.Queue.Len()))
	entry := func(q *Queued, id uint16, stage Stage) {
		flags := byte(0)
		if q.Retain {
			flags |= tfRetain
		}
		var tag uint16
		if q.Msg != nil {
			flags |= tfMsg
			if q.Msg.QoS > 0 {
				tag = q.Msg.Tag()
				flags |= tfTag
			}
		}
		b = binary.AppendUvarint(b, uint64(id))
		b = append(b, byte(stage), q.QoS, flags)
		b = binary.AppendUvarint(b, uint64(len(q.SubIDs)))
		for _, x := range q.SubIDs {
			b = binary.AppendUvarint(b, uint64(x))
		}
		if q.Msg != nil {
			tmp = appendMessage(tmp[:0], q.Msg)
			b = appendBytes(b, tmp)
		}
		if flags&tfTag != 0 {
			b = binary.AppendUvarint(b, uint64(tag))
		}
	}
	s.Window.Each(func(f *Inflight) bool { entry(&f.Queued, f.PacketID, f.Stage); return true })
	s.Queue.Each(func(q Queued) bool { entry(&q, 0, StageQueued); return true })
	var ids []uint16
	s.Pending.Each(func(id uint16, _ int64) { ids = append(ids, id) })
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return b
}

// DecodeTransfer decodes EncodeTransfer's encoding. A damaged input gives an error wrapping
// ErrBadRecord, never a panic. The result does not alias b.
func DecodeTransfer(b []byte) (*Transfer, error) {
	d := decoder{b: b}
	v := d.u8("transfer version")
	if d.err == nil && v != transferVersion && v != transferVersionV1 {
		return nil, fmt.Errorf("%w: unknown session transfer version %d", ErrBadRecord, v)
	}
	t := &Transfer{ClientID: string(d.bytes("client id"))}
	if st := d.bytes("session state"); d.err == nil {
		var err error
		if t.State, err = decodeSessionState(st); err != nil {
			return nil, err
		}
	}
	n := d.uvarint("subscription count")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("subscription count")
	}
	for i := uint64(0); d.err == nil && i < n; i++ {
		f := string(d.bytes("filter"))
		ob := d.bytes("subscription options")
		if d.err != nil {
			break
		}
		o, err := decodeSub(ob)
		if err != nil {
			return nil, err
		}
		t.Subs = append(t.Subs, Subscription{Filter: f, Options: o})
	}
	n = d.uvarint("delivery count")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("delivery count")
	}
	for i := uint64(0); d.err == nil && i < n; i++ {
		var e TransferEntry
		id := d.uvarint("packet id")
		e.Stage = Stage(d.u8("stage"))
		e.QoS = d.u8("QoS")
		flags := d.u8("flags")
		e.Retain = flags&tfRetain != 0
		ns := d.uvarint("subscription id count")
		if d.err == nil && ns > uint64(len(d.b)) {
			d.fail("subscription id count")
		}
		for j := uint64(0); d.err == nil && j < ns; j++ {
			e.SubIDs = append(e.SubIDs, uint32(d.uvarint("subscription id")))
		}
		if flags&tfMsg != 0 {
			mb := d.bytes("message")
			if d.err != nil {
				break
			}
			m, err := decodeMessage(mb)
			if err != nil {
				return nil, err
			}
			e.Msg = m
		}
		if flags&tfTag != 0 {
			tag := d.uvarint("tag")
			switch {
			case d.err != nil:
			case v == transferVersionV1 || e.Msg == nil || tag == 0 || tag > 0xFFFF:
				d.fail("tag")
			default:
				e.Msg.PeerTag = uint16(tag)
			}
		}
		switch {
		case d.err != nil:
		case id > 0xFFFF || e.QoS > 2 || e.Stage > AwaitPubcomp || (e.Stage == StageQueued) != (id == 0):
			d.fail("delivery")
		case e.Msg == nil && e.Stage != AwaitPubcomp:
			d.fail("delivery without its message")
		}
		e.PacketID = uint16(id)
		t.Entries = append(t.Entries, e)
	}
	n = d.uvarint("pending count")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("pending count")
	}
	for i := uint64(0); d.err == nil && i < n; i++ {
		id := d.uvarint("pending id")
		if id == 0 || id > 0xFFFF {
			d.fail("pending id")
		}
		t.Pending = append(t.Pending, uint16(id))
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the session transfer", ErrBadRecord, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

// EncodeMessage appends the store's encoding of m to b (for carrying a message, such as a
// will, between nodes). Safe for concurrent use; m is only read.
func EncodeMessage(b []byte, m *Message) []byte { return appendMessage(b, m) }

// DecodeMessage decodes EncodeMessage's encoding into a Message that owns its bytes.
func DecodeMessage(b []byte) (*Message, error) { return decodeMessage(b) }
