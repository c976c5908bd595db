package trie

import "unsafe"

// This file is the package's only use of unsafe: a node's level name lives in
// the node's own allocation, right after the node, so that the table probe
// or one-child check that reads the node's hash also has the name bytes at
// hand instead of fetching a separately allocated string (a cache miss per
// level on big trees; BenchmarkMatch/1M-exact measures it).
//
// Lifetime: the bytes are written once by newNode, before the node is
// published, and never change or move; they live exactly as long as the
// node, since name points into the same heap object (or, for long names,
// into a byte slice only this node references). nameString returns a string
// sharing those bytes; it is immutable for as long as anyone holds it.

// newNode returns a node named name (copied) with hash h. Short names are
// stored inline; with int handles a name of up to 8 bytes keeps the node
// and its name in one 64-byte object.
func newNode[K comparable](name string, h uint32) *node[K] {
	var n *node[K]
	var buf []byte
	switch l := len(name); {
	case l == 0:
		return &node[K]{h: h}
	case l <= 8:
		p := new(struct {
			n node[K]
			b [8]byte
		})
		n, buf = &p.n, p.b[:]
	case l <= 24:
		p := new(struct {
			n node[K]
			b [24]byte
		})
		n, buf = &p.n, p.b[:]
	case l <= 40:
		p := new(struct {
			n node[K]
			b [40]byte
		})
		n, buf = &p.n, p.b[:]
	default:
		n, buf = new(node[K]), make([]byte, l)
	}
	copy(buf, name)
	n.name, n.nameLen, n.h = unsafe.SliceData(buf), uint32(len(name)), h
	return n
}

// nameString returns n's level name, sharing the node's bytes (see above).
func (n *node[K]) nameString() string { return unsafe.String(n.name, n.nameLen) }
