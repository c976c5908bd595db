package trie

import "sync/atomic"

// set is the collection behind the large subscriber sets of a filter (the
// big form of a leaf, leaf.go) and behind a filter's shared groups. Named
// children use their own table (table.go), laid out for lookups.
//
// Readers reach a set through an atomic pointer and never lock. A small set is
// an immutable slice, replaced as a whole by the writer (copying at most
// smallMax entries). A large set is a hash table whose buckets are immutable
// slices behind their own atomic pointers: a write copies one bucket (a few
// entries) and stores it, so a filter with a hundred thousand subscribers
// costs O(bucket) per change, never O(n).
// Every entry lives in the bucket chosen by its key's hash, so a reader walking
// the table sees each entry exactly once, old or new. Growing the table builds
// a new table and publishes a new *set; the old one is never written again,
// so readers still holding it see a consistent, if slightly stale, view.
//
// All writer functions must be called with the owning shard's lock held.
type set[E any] struct {
	small []E        // immutable; used when big == nil
	big   *bigSet[E] // hash table for large sets
}

type bigSet[E any] struct {
	buckets []atomic.Pointer[[]E] // each bucket is an immutable slice
	mask    uint64
	count   atomic.Int64 // number of entries; written by writers, read by anyone
}

const (
	bigLoad    = 6  // average bucket length that triggers doubling
	minBuckets = 16 // buckets of a freshly promoted table
)

// setOps carries the key functions of one kind of entry for the writer path.
type setOps[E any] struct {
	hash     func(*E) uint64
	smallMax int
}

// put inserts e, or replaces the entry for which same returns true. It
// returns the set to publish (possibly s itself, already updated in place)
// and whether an entry was added.
func (o *setOps[E]) put(s *set[E], e E, same func(*E) bool) (*set[E], bool) {
	if s == nil {
		return &set[E]{small: []E{e}}, true
	}
	if s.big == nil {
		for i := range s.small {
			if same(&s.small[i]) {
				ns := make([]E, len(s.small))
				copy(ns, s.small)
				ns[i] = e
				return &set[E]{small: ns}, false
			}
		}
		if len(s.small) < o.smallMax {
			ns := make([]E, len(s.small)+1)
			copy(ns, s.small)
			ns[len(s.small)] = e
			return &set[E]{small: ns}, true
		}
		all := make([]E, 0, len(s.small)+1)
		all = append(append(all, s.small...), e)
		return &set[E]{big: o.build(all, minBuckets)}, true
	}
	b := s.big
	slot := &b.buckets[o.hash(&e)&b.mask]
	old := slot.Load()
	var cur []E
	if old != nil {
		cur = *old
	}
	for i := range cur {
		if same(&cur[i]) {
			nb := make([]E, len(cur))
			copy(nb, cur)
			nb[i] = e
			slot.Store(&nb)
			return s, false
		}
	}
	nb := make([]E, len(cur)+1)
	copy(nb, cur)
	nb[len(cur)] = e
	slot.Store(&nb)
	if b.count.Add(1) > int64(len(b.buckets)*bigLoad) {
		return &set[E]{big: o.build(o.all(b), len(b.buckets)*2)}, true
	}
	return s, true
}

// del removes the entry for which same returns true. It returns the set to
// publish (nil when empty, possibly s itself) and whether an entry was removed.
// key is an entry carrying the key, used only to find the bucket.
func (o *setOps[E]) del(s *set[E], key *E, same func(*E) bool) (*set[E], bool) {
	if s == nil {
		return nil, false
	}
	if s.big == nil {
		for i := range s.small {
			if same(&s.small[i]) {
				if len(s.small) == 1 {
					return nil, true
				}
				ns := make([]E, 0, len(s.small)-1)
				ns = append(append(ns, s.small[:i]...), s.small[i+1:]...)
				return &set[E]{small: ns}, true
			}
		}
		return s, false
	}
	b := s.big
	slot := &b.buckets[o.hash(key)&b.mask]
	old := slot.Load()
	if old == nil {
		return s, false
	}
	cur := *old
	for i := range cur {
		if same(&cur[i]) {
			if len(cur) == 1 {
				slot.Store(nil)
			} else {
				nb := make([]E, 0, len(cur)-1)
				nb = append(append(nb, cur[:i]...), cur[i+1:]...)
				slot.Store(&nb)
			}
			if b.count.Add(-1) <= int64(o.smallMax/2) {
				return &set[E]{small: o.all(b)}, true
			}
			return s, true
		}
	}
	return s, false
}

// all returns a fresh slice with every entry of b.
func (o *setOps[E]) all(b *bigSet[E]) []E {
	out := make([]E, 0, b.count.Load())
	for i := range b.buckets {
		if p := b.buckets[i].Load(); p != nil {
			out = append(out, *p...)
		}
	}
	return out
}

// build makes a table with at least nb buckets holding entries, sizing each
// bucket exactly.
func (o *setOps[E]) build(entries []E, nb int) *bigSet[E] {
	for nb*bigLoad < len(entries) {
		nb *= 2
	}
	b := &bigSet[E]{buckets: make([]atomic.Pointer[[]E], nb), mask: uint64(nb - 1)}
	b.count.Store(int64(len(entries)))
	hashes := make([]uint64, len(entries))
	counts := make([]int32, nb)
	for i := range entries {
		hashes[i] = o.hash(&entries[i]) & b.mask
		counts[hashes[i]]++
	}
	tmp := make([][]E, nb)
	for i, c := range counts {
		if c > 0 {
			tmp[i] = make([]E, 0, c)
		}
	}
	for i := range entries {
		tmp[hashes[i]] = append(tmp[hashes[i]], entries[i])
	}
	for i := range tmp {
		if tmp[i] != nil {
			b.buckets[i].Store(&tmp[i])
		}
	}
	return b
}
