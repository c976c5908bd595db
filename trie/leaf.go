package trie

// leaf holds what a filter's node delivers to: its ordinary subscriptions
// and its shared groups. A node's leaf pointer is nil while the filter has
// neither. Readers load the leaf through the node's atomic pointer; a leaf is
// immutable once published except for big's buckets.
//
// Up to smallMembers subscriptions live in the leaf itself: the first inline
// (a filter with one subscriber, the common case for device topics, costs a
// reader a single fetch) and the others in rest. Beyond that they move to
// big, a bucketed hash set changed in place one bucket at a time (set.go),
// so joining a 100 000-subscriber filter copies a few entries, not the set.
type leaf[K comparable] struct {
	first  Member[K]          // valid when small > 0
	rest   []Member[K]        // members after first while big is nil; immutable
	small  int32              // number of members held in first and rest
	big    *bigSet[Member[K]] // all members once there are many; first and rest unused
	groups *set[*Group[K]]    // shared groups on this filter, nil when none
}

// smallMembers is the most subscriptions a leaf holds without a hash set.
const smallMembers = 16

// members returns the number of ordinary subscriptions. Safe for readers.
func (l *leaf[K]) members() int {
	if l.big != nil {
		return int(l.big.count.Load())
	}
	return int(l.small)
}

// empty reports whether l delivers to no one.
func (l *leaf[K]) empty() bool {
	return l.small == 0 && l.big == nil && l.groups == nil
}

// withMember returns the leaf to publish after adding m, or replacing the
// options of the subscription with m's handle, and whether one was added.
// l may be nil. The result is l itself when only big changed in place.
// Shard lock held.
func (x *Index[K]) withMember(l *leaf[K], m Member[K]) (*leaf[K], bool) {
	if l == nil {
		return &leaf[K]{first: m, small: 1}, true
	}
	if l.big != nil {
		nb, added := x.subOps.put(&set[Member[K]]{big: l.big}, m, func(e *Member[K]) bool { return e.Handle == m.Handle })
		if nb.big == l.big {
			return l, added
		}
		return &leaf[K]{big: nb.big, groups: l.groups}, added
	}
	nl := &leaf[K]{first: l.first, small: l.small, groups: l.groups}
	if l.small > 0 && l.first.Handle == m.Handle {
		nl.first, nl.rest = m, l.rest
		return nl, false
	}
	for i := range l.rest {
		if l.rest[i].Handle == m.Handle {
			nl.rest = append([]Member[K](nil), l.rest...)
			nl.rest[i] = m
			return nl, false
		}
	}
	switch {
	case l.small == 0:
		nl.first = m
	case l.small < smallMembers:
		nl.rest = make([]Member[K], len(l.rest)+1)
		copy(nl.rest, l.rest)
		nl.rest[len(l.rest)] = m
	default:
		all := make([]Member[K], 0, l.small+1)
		all = append(append(append(all, l.first), l.rest...), m)
		return &leaf[K]{big: x.subOps.build(all, minBuckets), groups: l.groups}, true
	}
	nl.small++
	return nl, true
}

// withoutMember returns the leaf to publish after removing handle k's
// subscription (nil when nothing is left) and whether one was removed.
// Shard lock held.
func (x *Index[K]) withoutMember(l *leaf[K], k K) (*leaf[K], bool) {
	if l == nil {
		return nil, false
	}
	if l.big != nil {
		key := Member[K]{Handle: k}
		ns, removed := x.subOps.del(&set[Member[K]]{big: l.big}, &key, func(e *Member[K]) bool { return e.Handle == k })
		switch {
		case !removed:
			return l, false
		case ns.big == l.big:
			return l, true
		}
		nl := &leaf[K]{groups: l.groups}
		if len(ns.small) > 0 {
			nl.first, nl.rest, nl.small = ns.small[0], ns.small[1:], int32(len(ns.small))
		}
		return nl.orNil(), true
	}
	if l.small == 0 {
		return l, false
	}
	nl := &leaf[K]{groups: l.groups, small: l.small - 1}
	switch {
	case l.first.Handle == k:
		if len(l.rest) > 0 {
			nl.first, nl.rest = l.rest[0], l.rest[1:]
		}
	default:
		i := -1
		for j := range l.rest {
			if l.rest[j].Handle == k {
				i = j
				break
			}
		}
		if i < 0 {
			return l, false
		}
		nl.first = l.first
		if len(l.rest) > 1 {
			nl.rest = make([]Member[K], 0, len(l.rest)-1)
			nl.rest = append(append(nl.rest, l.rest[:i]...), l.rest[i+1:]...)
		}
	}
	return nl.orNil(), true
}

// withGroups returns the leaf to publish with groups gs (nil for none).
// Shard lock held.
func (l *leaf[K]) withGroups(gs *set[*Group[K]]) *leaf[K] {
	var nl leaf[K]
	if l != nil {
		nl = *l
	}
	nl.groups = gs
	return nl.orNil()
}

func (l *leaf[K]) orNil() *leaf[K] {
	if l.empty() {
		return nil
	}
	return l
}
