package sessions

import "unsafe"

// Message tags between the nodes of a cluster.
//
// A QoS 1 or 2 message that a node forwards to other nodes carries a 16-bit tag (in the
// forwarded PUBLISH's packet identifier, which means nothing between nodes), the same in
// every copy that node sends, and the receiving node keeps it in PeerTag. A session that
// moves between nodes carries the tags of its messages too (EncodeTransfer), so that the
// new node recognises a copy of a message that reaches the session by two ways: same tag,
// publisher, topic and payload. A tag is not unique (16 bits): it only tells apart
// messages that are otherwise equal, within the few seconds of a move.

// Tag returns m's tag: PeerTag when m came from another node, else one made of m's address
// and receive time (the same for every copy this node forwards or hands over while m
// lives, since they share m). Never 0. Safe for concurrent use.
func (m *Message) Tag() uint16 {
	if m.PeerTag != 0 {
		return m.PeerTag
	}
	h := uint64(uintptr(unsafe.Pointer(m))) ^ uint64(m.Created)*0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	t := uint16(h) ^ uint16(h>>16)
	if t == 0 {
		t = 1
	}
	return t
}
