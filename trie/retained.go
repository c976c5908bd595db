package trie

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Retained is the retained-message index: topic name -> latest retained
// message, looked up by topic filter. V is the engine's message value (for
// example a pointer to a cloned PUBLISH); the index stores it as given and
// never inspects it.
//
// Concurrency: all methods are safe for concurrent use. Topics are sharded by
// the xxhash of their first level, each shard behind a sync.RWMutex: writers
// on different event loops rarely meet, and lookups only share read locks.
// Match and Range call their callback with a shard's read lock held, so the
// callback must not call Set or Delete on the same Retained, and should not
// wait on anything (a lock, a socket): a writer of the shard waits meanwhile.
// A caller that does such work per message walks with a RetainedCursor, which
// holds the lock only while it collects a batch.
type Retained[V any] struct {
	shards      [numShards]retainedShard[V]
	maxMessages int
	maxPayload  int
	count       atomic.Int64
}

type retainedShard[V any] struct {
	mu   sync.RWMutex
	root rnode[V]
	_    [64]byte
}

type rnode[V any] struct {
	name string
	// kids are the children in the order they were added (ascending seq), including removed
	// ones (removed set) until the slice is compacted; cursors resume in it by seq.
	kids    []*rnode[V]
	index   map[string]*rnode[V] // live children by name, once more than retainedLinear
	topic   string               // full topic name, set while has is true
	value   V
	seq     uint64 // order among its parent's children
	nextSeq uint64 // seq of the next child added
	gone    int32  // removed children still in kids
	has     bool
	removed bool // no longer in the tree: a cursor may still hold it
}

// retainedLinear is how many live children a node finds by a scan of kids
// before it indexes them in a map.
const retainedLinear = 16

// NewRetained returns an empty retained index. maxMessages bounds the number
// of retained topics and maxPayload the size accepted by Set; 0 means no limit.
func NewRetained[V any](maxMessages, maxPayload int) *Retained[V] {
	return &Retained[V]{maxMessages: maxMessages, maxPayload: maxPayload}
}

// Len returns the number of retained messages. Lock-free.
func (r *Retained[V]) Len() int { return int(r.count.Load()) }

func (r *Retained[V]) shard(first string) *retainedShard[V] {
	return &r.shards[r.shardIndex(first)]
}

func (r *Retained[V]) shardIndex(first string) uint64 {
	return xxhash.Sum64String(first) & (numShards - 1)
}

func firstLevel(topic string) string {
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		return topic[:i]
	}
	return topic
}

// Set stores v as the retained message of topic, replacing any previous one.
// size is the payload length: 0 deletes the topic's retained message (an empty
// retained PUBLISH [MQTT-3.3.1-6]) and returns nil. It fails with
// ErrInvalidTopic for a malformed topic, ErrPayloadTooLarge when size exceeds
// the limit, and ErrRetainedFull when topic is new and the index is full
// (replacing an existing topic is always allowed). The index keeps its own
// copy of topic and keeps v until it is replaced or deleted.
func (r *Retained[V]) Set(topic string, v V, size int) error {
	if !validTopic(topic) {
		return ErrInvalidTopic
	}
	if size == 0 {
		r.Delete(topic)
		return nil
	}
	if r.maxPayload > 0 && size > r.maxPayload {
		return ErrPayloadTooLarge
	}
	sh := r.shard(firstLevel(topic))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if n := sh.root.find(topic); n != nil && n.has {
		n.value = v
		return nil
	}
	if c := r.count.Add(1); r.maxMessages > 0 && c > int64(r.maxMessages) {
		r.count.Add(-1)
		return ErrRetainedFull
	}
	n := &sh.root
	rest := topic
	for {
		i := strings.IndexByte(rest, '/')
		lvl := rest
		if i >= 0 {
			lvl = rest[:i]
		}
		c := n.child(lvl)
		if c == nil {
			c = &rnode[V]{name: cloneString(lvl)}
			n.addChild(c)
		}
		n = c
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	n.topic, n.value, n.has = cloneString(topic), v, true
	return nil
}

// Get returns the retained message of topic, if any.
func (r *Retained[V]) Get(topic string) (V, bool) {
	sh := r.shard(firstLevel(topic))
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if n := sh.root.find(topic); n != nil && n.has {
		return n.value, true
	}
	var zero V
	return zero, false
}

// Delete removes the retained message of topic and prunes empty nodes. It
// reports whether there was one.
func (r *Retained[V]) Delete(topic string) bool {
	if topic == "" || strings.Count(topic, "/") >= MaxLevels {
		return false
	}
	sh := r.shard(firstLevel(topic))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var path [MaxLevels + 1]*rnode[V]
	var names [MaxLevels]string
	depth := 0
	n := &sh.root
	path[0] = n
	rest := topic
	for {
		i := strings.IndexByte(rest, '/')
		lvl := rest
		if i >= 0 {
			lvl = rest[:i]
		}
		if n = n.child(lvl); n == nil {
			return false
		}
		names[depth] = lvl
		depth++
		path[depth] = n
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if !n.has {
		return false
	}
	var zero V
	n.topic, n.value, n.has = "", zero, false
	r.count.Add(-1)
	for d := depth; d > 0; d-- {
		c := path[d]
		if c.has || c.live() > 0 {
			break
		}
		path[d-1].removeChild(names[d-1])
	}
	return true
}

// Match calls fn with the topic and message of every retained topic matching
// filter, until fn returns false. It visits only the branches of the tree the
// filter can match ("a/+/c" reads the children of "a" and one child of each),
// never all retained topics unless the filter asks for them ("#"). Topics
// starting with '$' are not matched by filters starting with a wildcard
// [MQTT-4.7.2-1]. filter must be a plain filter (no $share/ prefix: retained
// messages are not sent for shared subscriptions). It returns
// ErrInvalidFilter for a malformed filter. The topic string passed to fn is
// owned by the index and immutable, so fn may keep it.
func (r *Retained[V]) Match(filter string, fn func(topic string, v V) bool) error {
	var f filterLevels
	if !f.split(filter) {
		return ErrInvalidFilter
	}
	if first := f.lvl[0]; first != "+" && first != "#" {
		sh := r.shard(first)
		sh.mu.RLock()
		defer sh.mu.RUnlock()
		sh.root.match(&f, 0, fn)
		return nil
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		more := sh.root.match(&f, 0, fn)
		sh.mu.RUnlock()
		if !more {
			break
		}
	}
	return nil
}

// Range calls fn for every retained message, '$' topics included, until fn
// returns false (for persistence snapshots and the HTTP API).
func (r *Retained[V]) Range(fn func(topic string, v V) bool) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		more := sh.root.all(fn)
		sh.mu.RUnlock()
		if !more {
			return
		}
	}
}

// match walks the part of the tree under n that levels i.. of f can match;
// it returns false once fn asked to stop.
func (n *rnode[V]) match(f *filterLevels, i int, fn func(string, V) bool) bool {
	if i == f.n {
		if n.has {
			return fn(n.topic, n.value)
		}
		return true
	}
	switch lvl := f.lvl[i]; lvl {
	case "#":
		// "a/#" also matches "a" itself.
		if i > 0 && n.has && !fn(n.topic, n.value) {
			return false
		}
		return n.eachKid(func(c *rnode[V]) bool {
			if i == 0 && strings.HasPrefix(c.name, "$") {
				return true
			}
			return c.all(fn)
		})
	case "+":
		return n.eachKid(func(c *rnode[V]) bool {
			if i == 0 && strings.HasPrefix(c.name, "$") {
				return true
			}
			return c.match(f, i+1, fn)
		})
	default:
		if c := n.child(lvl); c != nil {
			return c.match(f, i+1, fn)
		}
		return true
	}
}

func (n *rnode[V]) all(fn func(string, V) bool) bool {
	if n.has && !fn(n.topic, n.value) {
		return false
	}
	return n.eachKid(func(c *rnode[V]) bool { return c.all(fn) })
}

func (n *rnode[V]) eachKid(fn func(*rnode[V]) bool) bool {
	for _, c := range n.kids {
		if !c.removed && !fn(c) {
			return false
		}
	}
	return true
}

// live returns the number of children in the tree.
func (n *rnode[V]) live() int { return len(n.kids) - int(n.gone) }

func (n *rnode[V]) find(topic string) *rnode[V] {
	rest := topic
	for {
		i := strings.IndexByte(rest, '/')
		lvl := rest
		if i >= 0 {
			lvl = rest[:i]
		}
		if n = n.child(lvl); n == nil || i < 0 {
			return n
		}
		rest = rest[i+1:]
	}
}

func (n *rnode[V]) child(name string) *rnode[V] {
	if n.index != nil {
		return n.index[name]
	}
	for _, c := range n.kids {
		if c.name == name && !c.removed {
			return c
		}
	}
	return nil
}

func (n *rnode[V]) addChild(c *rnode[V]) {
	c.seq = n.nextSeq
	n.nextSeq++
	n.kids = append(n.kids, c)
	if n.index != nil {
		n.index[c.name] = c
		return
	}
	if n.live() > retainedLinear {
		n.index = make(map[string]*rnode[V], 2*retainedLinear)
		for _, k := range n.kids {
			if !k.removed {
				n.index[k.name] = k
			}
		}
	}
}

// removeChild takes the child called name out of the tree. It stays in kids, marked
// removed, until removed children are half of kids: compacting keeps the order, so that a
// cursor resuming by seq neither skips nor repeats a child.
func (n *rnode[V]) removeChild(name string) {
	c := n.child(name)
	if c == nil {
		return
	}
	c.removed = true
	n.gone++
	if n.index != nil {
		delete(n.index, name)
	}
	if n.live() == 0 {
		clear(n.kids)
		n.kids, n.index, n.gone = nil, nil, 0
		return
	}
	if int(n.gone)*2 > len(n.kids) {
		kept := n.kids[:0]
		for _, k := range n.kids {
			if !k.removed {
				kept = append(kept, k)
			}
		}
		clear(n.kids[len(kept):])
		n.kids, n.gone = kept, 0
	}
}

// kidIndex returns the index in kids of the first child whose seq is at least seq
// (len(kids) when none).
func (n *rnode[V]) kidIndex(seq uint64) int {
	kids := n.kids
	lo, hi := 0, len(kids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if kids[m].seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
