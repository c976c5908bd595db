package trie

// Filters calls fn for every topic filter that currently has subscriptions,
// the routes of EMQX's "emqx_ctl routes list", until fn returns false.
// subscribers counts the filter's ordinary subscriptions plus the members of
// its shared groups; a filter subscribed to only through "$share/g/f" or
// "$queue/f" is listed as its plain filter f. Each filter is listed once;
// the order is unspecified (stable while the index does not change), so an
// API that pages should sort or resume by filter.
//
// Filters takes no lock: matches and writers run on undisturbed. A filter
// no write touches is listed exactly once. One added or removed while the
// walk is running may be missed, and one removed and added again may be
// listed twice (its new node can take a table slot the walk has yet to
// reach); counts are read one by one, so they may be off by the writes in
// flight. filter is a fresh string
// owned by fn. fn may call any method of x, writers included (they wait for
// no one here), though what they change may or may not be listed. Safe for
// concurrent use with every other method.
func (x *Index[K]) Filters(fn func(filter string, subscribers int) bool) {
	var buf [256]byte
	for i := range x.shards {
		if !x.filtersUnder(&x.shards[i].root, buf[:0], true, fn) {
			return
		}
	}
}

// filtersUnder lists the filters at n and below; path is n's filter ("" at a
// shard root). It reports false once fn has asked to stop.
func (x *Index[K]) filtersUnder(n *node[K], path []byte, root bool, fn func(string, int) bool) bool {
	if !root {
		if l := n.leaf.Load(); l != nil {
			if !fn(string(path), l.members()+groupMembers(l.groups)) {
				return false
			}
		}
	}
	sub := func(c *node[K], name string) bool {
		p := path
		if !root {
			p = append(p, '/')
		}
		return x.filtersUnder(c, append(p, name...), false, fn)
	}
	if t := n.kids.Load(); t != nil {
		for i := range t.slots {
			if c := t.slots[i].Load(); c != nil && c != x.tomb && !sub(c, c.nameString()) {
				return false
			}
		}
	} else if c := n.only.Load(); c != nil && !sub(c, c.nameString()) {
		return false
	}
	if c := n.plus.Load(); c != nil && !sub(c, "+") {
		return false
	}
	if c := n.hash.Load(); c != nil && !sub(c, "#") {
		return false
	}
	return true
}

// groupMembers sums the members of a filter's shared groups. Lock-free.
func groupMembers[K comparable](s *set[*Group[K]]) int {
	if s == nil {
		return 0
	}
	n := 0
	count := func(gs []*Group[K]) {
		for _, g := range gs {
			n += len(g.Members())
		}
	}
	if s.big == nil {
		count(s.small)
		return n
	}
	for b := range s.big.buckets {
		if p := s.big.buckets[b].Load(); p != nil {
			count(*p)
		}
	}
	return n
}
