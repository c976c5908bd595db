package cluster

import (
	"encoding/binary"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// The common record: a message without properties and without an expiry (a plain MQTT 3.1.1
// publish, or an MQTT 5 one without properties). Its PUBLISH is written straight into the
// frame with its length known in advance, and read back without the codec's Decode: the
// sending node decoded and validated it when its client published, and the frame comes from
// an authenticated node. A PUBLISH with properties takes the codec's way both ends.

// appendFrom appends a record's client id field: 0 for "the same as the record before"
// (sameFrom), else its length plus one and its bytes.
func appendFrom(dst []byte, from string, sameFrom bool) []byte {
	if sameFrom {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(from))+1)
	return append(dst, from...)
}

// appendPlainRecord appends the record of msg, which has no properties and no expiry.
func appendPlainRecord(dst []byte, msg *sessions.Message, qos uint8, retain bool, group string, sameFrom bool) []byte {
	dst = appendFrom(dst, msg.From, sameFrom)
	dst = binary.AppendUvarint(dst, uint64(len(group)))
	dst = append(dst, group...)
	rem := 2 + len(msg.Topic) + 1 + len(msg.Payload) // topic, property length 0, payload
	first := byte(codec.TypePublish)<<4 | (qos&3)<<1
	if qos > 0 {
		rem += 2
	}
	if retain {
		first |= 1
	}
	size := 1 + codec.VarintSize(uint32(rem)) + rem
	dst = binary.AppendUvarint(dst, uint64(size))
	dst = codec.AppendVarint(append(dst, first), uint32(rem))
	dst = append(dst, byte(len(msg.Topic)>>8), byte(len(msg.Topic)))
	dst = append(dst, msg.Topic...)
	if qos > 0 {
		t := tagOf(msg) // in the packet identifier: the message's tag between nodes (tag.go)
		dst = append(dst, byte(t>>8), byte(t))
	}
	dst = append(dst, 0) // no properties
	return append(dst, msg.Payload...)
}

// decode sets r.pub from pkt, a whole MQTT 5 PUBLISH: directly when it has no properties,
// through the codec otherwise. Its byte fields alias pkt.
func (r *record) decode(pkt []byte) error {
	if r.full {
		r.pub.Reset()
		r.full = false
	}
	if decodePlain(pkt, &r.pub) {
		return nil
	}
	r.full = true
	return r.pub.Decode(pkt, codec.V5)
}

// decodePlain sets p's flags, topic, packet identifier and payload from pkt when pkt is a
// well-formed PUBLISH without properties and reports whether it was; p's properties must be
// empty and are left so. Anything else (properties, a malformed packet) is left to Decode,
// which explains the error.
func decodePlain(pkt []byte, p *codec.Publish) bool {
	if len(pkt) < 2 || codec.PacketType(pkt[0]>>4) != codec.TypePublish {
		return false
	}
	flags := pkt[0] & 0x0F
	qos := flags >> 1 & 3
	if qos == 3 || (qos == 0 && flags&0x08 != 0) {
		return false
	}
	rem, n, err := codec.DecodeVarint(pkt[1:])
	if err != nil || n == 0 || int(rem) != len(pkt)-1-n {
		return false
	}
	b := pkt[1+n:]
	if len(b) < 2 {
		return false
	}
	tl := int(b[0])<<8 | int(b[1])
	b = b[2:]
	if tl == 0 || len(b) < tl {
		return false
	}
	topic := b[:tl:tl]
	b = b[tl:]
	var id uint16
	if qos > 0 {
		if len(b) < 2 {
			return false
		}
		id = uint16(b[0])<<8 | uint16(b[1])
		b = b[2:]
		if id == 0 {
			return false
		}
	}
	if len(b) < 1 || b[0] != 0 {
		return false // properties, or none of their length
	}
	p.Dup, p.QoS, p.Retain = flags&0x08 != 0, qos, flags&1 != 0
	p.Topic, p.PacketID, p.Payload = topic, id, b[1:len(b):len(b)]
	return true
}
