package trie

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// node is one level of the subscription tree. The fields readers follow are
// atomic pointers to immutable data (or, for big sets, data changed in place
// one atomic slot at a time), so readers walk the tree without locks while
// the shard's writer changes it. name and h never change after the node is
// published. The struct is 56 bytes, and with a name of up to 8 bytes stored
// after it one 64-byte object: one cache line for everything a match reads
// at a level.
type node[K comparable] struct {
	kids atomic.Pointer[table[K]] // named children once there are two or more (table.go)
	only atomic.Pointer[node[K]]  // the named child while there is at most one; stale while kids is set
	leaf atomic.Pointer[leaf[K]]  // subscriptions of the filter ending here; nil when none
	plus atomic.Pointer[node[K]]  // the "+" child
	hash atomic.Pointer[node[K]]  // the "#" child

	// The level name, set by newNode before publication and never changed:
	// nameLen bytes at name, in this node's own allocation when short
	// (names.go). h is its seeded hash, so table probes skip other children
	// without comparing names.
	name    *byte
	nameLen uint32
	h       uint32
}

// empty reports whether n holds nothing and can be pruned; shard lock held.
func (n *node[K]) empty() bool {
	return n.kids.Load() == nil && n.only.Load() == nil && n.leaf.Load() == nil &&
		n.plus.Load() == nil && n.hash.Load() == nil
}

// child returns the named child called name, or nil. Lock-free.
func (n *node[K]) child(name []byte, seed maphash.Seed) *node[K] {
	if t := n.kids.Load(); t != nil {
		return t.find(uint32(maphash.Bytes(seed, name)), name)
	}
	if c := n.only.Load(); c != nil && c.nameString() == string(name) {
		return c
	}
	return nil
}

// numShards shards hold the filters whose first level is a name, by xxhash of
// that name; one more shard holds the filters starting with '+' or '#'.
const (
	numShards = 16
	wildShard = numShards
)

type shard[K comparable] struct {
	mu   sync.Mutex // serializes writers; readers never take it
	root node[K]
	_    [64]byte // keep shard locks on separate cache lines
}

// Index is the subscription index: topic filters with their subscribers and
// shared groups, matched against topic names.
//
// Concurrency: all methods are safe for concurrent use. Match, Stats and the
// read accessors take no lock and never wait for writers. Subscribe,
// Unsubscribe and Apply lock one shard at a time. A match running alongside a
// write sees every filter either before or after that write, never a torn
// state; a subscription that no write touches is always reported exactly once.
//
// K is the subscriber handle, compared with ==; keep it small (a pointer or
// an integer id), since it is copied into every subscription entry.
type Index[K comparable] struct {
	shards [numShards + 1]shard[K]

	subOps   setOps[Member[K]]
	groupOps setOps[*Group[K]]
	seed     maphash.Seed // hashes child names and handles; per index, so crafted names cannot pile into one probe run
	tomb     *node[K]     // marks a deleted child's table slot

	filters, filtersMax       atomic.Int64
	subscriptions, subsMax    atomic.Int64
	sharedSubs, sharedSubsMax atomic.Int64
}

// New returns an empty index.
func New[K comparable]() *Index[K] {
	x := &Index[K]{seed: maphash.MakeSeed()}
	x.subOps = setOps[Member[K]]{
		hash:     func(m *Member[K]) uint64 { return maphash.Comparable(x.seed, m.Handle) },
		smallMax: smallMembers,
	}
	x.tomb = newTombstone[K](x.seed)
	x.groupOps = setOps[*Group[K]]{
		hash:     func(g **Group[K]) uint64 { return xxhash.Sum64String((*g).name) },
		smallMax: 8,
	}
	return x
}

func shardOf(first []byte) int { return int(xxhash.Sum64(first) & (numShards - 1)) }

func (x *Index[K]) shardFor(f *filterLevels) *shard[K] {
	if first := f.lvl[0]; first == "+" || first == "#" {
		return &x.shards[wildShard]
	}
	return &x.shards[int(xxhash.Sum64String(f.lvl[0])&(numShards-1))]
}

// Subscribe adds handle's subscription to filter, or replaces its options if
// handle already subscribes to exactly this filter (and share group).
// filter may carry a "$share/<group>/" or "$queue/" prefix. It reports whether
// a new subscription was added, and ErrInvalidFilter for a malformed filter.
// The index keeps its own copies of the filter's strings. Safe for concurrent
// use; locks one shard.
func (x *Index[K]) Subscribe(filter string, handle K, o Options) (added bool, err error) {
	group, plain, ok := parseShare(filter)
	var f filterLevels
	if !ok || !f.split(plain) {
		return false, ErrInvalidFilter
	}
	sh := x.shardFor(&f)
	sh.mu.Lock()
	added = x.subscribeLocked(&sh.root, &f, group, plain, Member[K]{Handle: handle, Options: o})
	sh.mu.Unlock()
	return added, nil
}

// Unsubscribe removes handle's subscription to filter (with the same share
// prefix it subscribed with) and prunes nodes left empty. It reports whether
// a subscription was removed; a malformed filter removes nothing. Safe for
// concurrent use; locks one shard.
func (x *Index[K]) Unsubscribe(filter string, handle K) bool {
	group, plain, ok := parseShare(filter)
	var f filterLevels
	if !ok || !f.split(plain) {
		return false
	}
	sh := x.shardFor(&f)
	sh.mu.Lock()
	removed := x.unsubscribeLocked(&sh.root, &f, group, handle)
	sh.mu.Unlock()
	return removed
}

// Op is one operation of a batch given to Apply. Apply fills Added (for a
// subscribe: a new subscription; for an unsubscribe: one was removed) and Err.
type Op[K comparable] struct {
	Filter      string
	Handle      K
	Options     Options // ignored for Unsubscribe
	Unsubscribe bool

	Changed bool  // output: subscription added (subscribe) or removed (unsubscribe)
	Err     error // output: ErrInvalidFilter or nil
}

// Apply performs a batch of subscribes and unsubscribes, taking each shard's
// lock once for all of that shard's operations (a SUBSCRIBE with many filters,
// a session restored at takeover, a burst from a reconnect storm). Operations
// on the same filter keep their order. Readers stay lock-free throughout and
// see each operation as it is applied, not the batch as a whole.
// Safe for concurrent use; ops is modified in place and not retained.
func (x *Index[K]) Apply(ops []Op[K]) {
	shardOfOp := make([]int8, len(ops))
	var used [numShards + 1]bool
	for i := range ops {
		shardOfOp[i] = -1
		_, plain, ok := parseShare(ops[i].Filter)
		var f filterLevels
		if !ok || !f.split(plain) {
			ops[i].Err, ops[i].Changed = ErrInvalidFilter, false
			continue
		}
		s := numShards
		if f.lvl[0] != "+" && f.lvl[0] != "#" {
			s = int(xxhash.Sum64String(f.lvl[0]) & (numShards - 1))
		}
		shardOfOp[i] = int8(s)
		used[s] = true
	}
	var f filterLevels
	for s := range used {
		if !used[s] {
			continue
		}
		sh := &x.shards[s]
		sh.mu.Lock()
		for i := range ops {
			if int(shardOfOp[i]) != s {
				continue
			}
			op := &ops[i]
			group, plain, _ := parseShare(op.Filter)
			f.split(plain)
			op.Err = nil
			if op.Unsubscribe {
				op.Changed = x.unsubscribeLocked(&sh.root, &f, group, op.Handle)
			} else {
				op.Changed = x.subscribeLocked(&sh.root, &f, group, plain, Member[K]{Handle: op.Handle, Options: op.Options})
			}
		}
		sh.mu.Unlock()
	}
}

func (x *Index[K]) subscribeLocked(n *node[K], f *filterLevels, group, plain string, m Member[K]) bool {
	for i := 0; i < f.n; i++ {
		n = x.childForWrite(n, f.lvl[i])
	}
	l := n.leaf.Load()
	wasEmpty := l == nil
	var added bool
	if group == "" {
		var nl *leaf[K]
		nl, added = x.withMember(l, m)
		if nl != l {
			n.leaf.Store(nl)
		}
	} else {
		var gs *set[*Group[K]]
		if l != nil {
			gs = l.groups
		}
		g := findGroup(gs, group)
		if g == nil {
			g = &Group[K]{name: cloneString(group), filter: cloneString(plain)}
			g.put(m)
			ns, _ := x.groupOps.put(gs, g, func(e **Group[K]) bool { return (*e).name == group })
			if ns != gs {
				n.leaf.Store(l.withGroups(ns))
			}
			added = true
		} else {
			added = g.put(m)
		}
		if added {
			bump(&x.sharedSubs, &x.sharedSubsMax, 1)
		}
	}
	if added {
		bump(&x.subscriptions, &x.subsMax, 1)
	}
	if wasEmpty {
		bump(&x.filters, &x.filtersMax, 1)
	}
	return added
}

func (x *Index[K]) unsubscribeLocked(root *node[K], f *filterLevels, group string, k K) bool {
	var path [MaxLevels + 1]*node[K]
	n := root
	path[0] = n
	for i := 0; i < f.n; i++ {
		n = childOf(n, f.lvl[i], x.seed)
		if n == nil {
			return false
		}
		path[i+1] = n
	}
	l := n.leaf.Load()
	if l == nil {
		return false
	}
	if group == "" {
		nl, removed := x.withoutMember(l, k)
		if !removed {
			return false
		}
		if nl != l {
			n.leaf.Store(nl)
		}
	} else {
		g := findGroup(l.groups, group)
		if g == nil || !g.remove(k) {
			return false
		}
		if g.members.Load() == nil {
			ns, _ := x.groupOps.del(l.groups, &g, func(e **Group[K]) bool { return *e == g })
			if ns != l.groups {
				n.leaf.Store(l.withGroups(ns))
			}
		}
		x.sharedSubs.Add(-1)
	}
	x.subscriptions.Add(-1)
	if n.leaf.Load() == nil {
		x.filters.Add(-1)
	}
	// Prune empty nodes bottom-up. Readers already inside a pruned node see it
	// empty; writers hold the lock, so none can be adding to it.
	for i := f.n; i > 0 && path[i].empty(); i-- {
		parent := path[i-1]
		switch f.lvl[i-1] {
		case "+":
			parent.plus.Store(nil)
		case "#":
			parent.hash.Store(nil)
		default:
			x.removeChild(parent, path[i])
		}
	}
	return true
}

// childForWrite returns n's child for level name, creating it; lock held.
func (x *Index[K]) childForWrite(n *node[K], name string) *node[K] {
	var slot *atomic.Pointer[node[K]]
	switch name {
	case "+":
		slot = &n.plus
	case "#":
		slot = &n.hash
	default:
		if c := childOf(n, name, x.seed); c != nil {
			return c
		}
		c := newNode[K](name, uint32(maphash.String(x.seed, name)))
		switch t, one := n.kids.Load(), n.only.Load(); {
		case t != nil:
			if nt := t.insert(c, x.tomb); nt != t {
				n.kids.Store(nt)
			}
		case one == nil:
			n.only.Store(c)
		default:
			// Promotion: readers that loaded kids == nil still find one
			// through only, which stays set until the table goes away.
			n.kids.Store(newTable([]*node[K]{one, c}, minTable))
		}
		return c
	}
	if c := slot.Load(); c != nil {
		return c
	}
	c := &node[K]{}
	slot.Store(c)
	return c
}

// removeChild unlinks the named child c from n; lock held.
func (x *Index[K]) removeChild(n, c *node[K]) {
	t := n.kids.Load()
	if t == nil {
		if n.only.Load() == c {
			n.only.Store(nil)
		}
		return
	}
	if n.only.Load() == c {
		n.only.Store(nil) // stale pointer: let the pruned node go
	}
	switch nt := t.remove(c, x.tomb); {
	case nt == nil:
		// Demotion: only first, then kids, so a reader seeing kids == nil
		// finds the remaining child through only.
		var last *node[K]
		if rest := t.children(nil, x.tomb); len(rest) > 0 {
			last = rest[0]
		}
		n.only.Store(last)
		n.kids.Store(nil)
	case nt != t:
		n.kids.Store(nt)
	}
}

// childOf returns n's child for the filter level name (a wildcard or a name);
// writers only.
func childOf[K comparable](n *node[K], name string, seed maphash.Seed) *node[K] {
	switch name {
	case "+":
		return n.plus.Load()
	case "#":
		return n.hash.Load()
	}
	if t := n.kids.Load(); t != nil {
		return t.findString(uint32(maphash.String(seed, name)), name)
	}
	if c := n.only.Load(); c != nil && c.nameString() == name {
		return c
	}
	return nil
}

func findGroup[K comparable](s *set[*Group[K]], name string) *Group[K] {
	if s == nil {
		return nil
	}
	if s.big == nil {
		for _, g := range s.small {
			if g.name == name {
				return g
			}
		}
		return nil
	}
	p := s.big.buckets[xxhash.Sum64String(name)&s.big.mask].Load()
	if p == nil {
		return nil
	}
	for _, g := range *p {
		if g.name == name {
			return g
		}
	}
	return nil
}

// cloneString copies s so the index never pins or aliases caller memory.
func cloneString(s string) string { return string(append([]byte(nil), s...)) }

func bump(v, hw *atomic.Int64, d int64) {
	n := v.Add(d)
	for {
		m := hw.Load()
		if n <= m || hw.CompareAndSwap(m, n) {
			return
		}
	}
}

// Stats are the counters the broker reports in $SYS and its API.
type Stats struct {
	Filters             int64 // distinct topic filters with at least one subscriber (EMQX routes/topics count)
	FiltersMax          int64 // high-water mark of Filters
	Subscriptions       int64 // all subscriptions, shared ones included
	SubscriptionsMax    int64
	SharedSubscriptions int64 // members of shared groups
	SharedMax           int64
}

// Stats returns the current counters. Lock-free; the fields are read one by
// one, so they may be mutually off by the writes in flight.
func (x *Index[K]) Stats() Stats {
	return Stats{
		Filters: x.filters.Load(), FiltersMax: x.filtersMax.Load(),
		Subscriptions: x.subscriptions.Load(), SubscriptionsMax: x.subsMax.Load(),
		SharedSubscriptions: x.sharedSubs.Load(), SharedMax: x.sharedSubsMax.Load(),
	}
}
