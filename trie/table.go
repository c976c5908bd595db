package trie

import (
	"hash/maphash"
	"sync/atomic"
)

// A node's named children take one of two forms, chosen by their number:
//
//   - none or one: node.only points at the child and node.kids is nil. Most
//     levels of a real tree have a single child ("dev" under each site,
//     "temp" under each device), and this form costs a reader no fetch
//     beyond the child itself.
//   - two or more: node.kids points at a table, an open-addressing hash
//     table whose slots are atomic pointers straight to the child nodes. A
//     child node carries its own name and hash, so a lookup is the table,
//     one slot (its neighbours share the cache line) and the child: no
//     bucket headers or entry arrays between them.
//
// Writers (shard lock held) insert into a free slot and delete by storing a
// tombstone, in place, so a level with a million children costs O(1) per
// subscribe; entries never move within a table, so a reader probing the slots
// finds every child that is present throughout its lookup. The table is
// rebuilt (a new table, published with one store; the old one is never
// written again) when live entries plus tombstones pass 3/4 of the slots, or
// when it is mostly empty: amortized O(1) per change.
//
// Form changes are ordered so that a reader, which loads kids first and only
// when it is nil loads only, always finds a child that no write touches:
// promotion stores the table and leaves only as it was (stale, ignored while
// kids is set); demotion to one child stores only, then clears kids.
type table[K comparable] struct {
	slots []atomic.Pointer[node[K]] // length is a power of two
	live  int                       // children present; writers only
	used  int                       // slots not nil (children and tombstones); writers only
}

// minTable is the slot count of the smallest table (two or three children).
const minTable = 4

// find returns the child named name, whose seeded hash is h, or nil.
// Lock-free. A tombstone's name ("/") never equals a level name.
func (t *table[K]) find(h uint32, name []byte) *node[K] {
	mask := uint64(len(t.slots) - 1)
	for i := uint64(h) & mask; ; i = (i + 1) & mask {
		c := t.slots[i].Load()
		if c == nil {
			return nil
		}
		if c.h == h && c.nameString() == string(name) {
			return c
		}
	}
}

// tableSize returns the slot count for live children right after a rebuild:
// at most half full.
func tableSize(live int) int {
	n := minTable
	for n < 2*live {
		n *= 2
	}
	return n
}

// newTable builds a table holding children (none of them tombstones).
func newTable[K comparable](children []*node[K], size int) *table[K] {
	t := &table[K]{slots: make([]atomic.Pointer[node[K]], size), live: len(children), used: len(children)}
	mask := uint64(size - 1)
	for _, c := range children {
		i := uint64(c.h) & mask
		for t.slots[i].Load() != nil {
			i = (i + 1) & mask
		}
		t.slots[i].Store(c)
	}
	return t
}

// children appends t's live children to dst; writers only (or readers that
// accept a view that may be stale by the writes in flight).
func (t *table[K]) children(dst []*node[K], tomb *node[K]) []*node[K] {
	for i := range t.slots {
		if c := t.slots[i].Load(); c != nil && c != tomb {
			dst = append(dst, c)
		}
	}
	return dst
}

// insert adds c, known to be absent, and returns the table to publish: t
// itself, changed in place, or a rebuilt one. Shard lock held.
func (t *table[K]) insert(c, tomb *node[K]) *table[K] {
	if 4*(t.used+1) > 3*len(t.slots) {
		all := append(t.children(make([]*node[K], 0, t.live+1), tomb), c)
		return newTable(all, tableSize(len(all)))
	}
	mask := uint64(len(t.slots) - 1)
	i := uint64(c.h) & mask
	for {
		old := t.slots[i].Load()
		if old == nil || old == tomb {
			if old == nil {
				t.used++
			}
			t.live++
			t.slots[i].Store(c)
			return t
		}
		i = (i + 1) & mask
	}
}

// remove replaces c by a tombstone and returns the table to publish: t, a
// smaller rebuilt table when t is mostly empty, or nil when a single child
// is left (the caller then switches the node to its one-child form).
// Shard lock held.
func (t *table[K]) remove(c, tomb *node[K]) *table[K] {
	mask := uint64(len(t.slots) - 1)
	for i := uint64(c.h) & mask; ; i = (i + 1) & mask {
		old := t.slots[i].Load()
		if old == nil {
			panic("BUG: trie: removing a child that is not in its table")
		}
		if old == c {
			t.slots[i].Store(tomb)
			t.live--
			break
		}
	}
	switch {
	case t.live <= 1:
		return nil
	case len(t.slots) > minTable && 8*t.live < len(t.slots):
		return newTable(t.children(make([]*node[K], 0, t.live), tomb), tableSize(t.live))
	}
	return t
}

// newTombstone returns the marker stored in the slot of a deleted child. Its
// name contains '/', which no level name does, so lookups skip it.
func newTombstone[K comparable](seed maphash.Seed) *node[K] {
	return newNode[K]("/", uint32(maphash.String(seed, "/")))
}

// findString is find for a name held as a string (the writer path).
func (t *table[K]) findString(h uint32, name string) *node[K] {
	mask := uint64(len(t.slots) - 1)
	for i := uint64(h) & mask; ; i = (i + 1) & mask {
		c := t.slots[i].Load()
		if c == nil {
			return nil
		}
		if c.h == h && c.nameString() == name {
			return c
		}
	}
}
