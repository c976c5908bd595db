package cluster

import (
	"unsafe"

	"github.com/emqgo/emqgo/sessions"
)

// Message tags.
//
// A QoS 1 or 2 message forwarded to other nodes carries a 16-bit tag in its PUBLISH's packet
// identifier (which means nothing between nodes), the same in every copy the publishing node
// sends, and the receiving node keeps it (sessions.Message.PeerTag). When a session moves
// (move.go), a message routed to both the old node's relay and the new node reaches the
// session twice; the two copies have the same tag, publisher, topic and payload, and the
// new node keeps one. A tag is not unique (16 bits): it only tells apart messages that are
// otherwise equal, within the few hundred milliseconds of a move.

// tagOf returns msg's tag: the one it came with from another node, else one made of its
// address and receive time (the same for every copy this node forwards, since they share
// the message). Never 0.
func tagOf(msg *sessions.Message) uint16 {
	if msg.PeerTag != 0 {
		return msg.PeerTag
	}
	h := uint64(uintptr(unsafe.Pointer(msg))) ^ uint64(msg.Created)*0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	t := uint16(h) ^ uint16(h>>16)
	if t == 0 {
		t = 1
	}
	return t
}
