package trie

// RetainedCursor walks the retained messages matching a filter in batches, so that a caller
// can act on each batch (lock a session, write to a socket) with no lock of the index held,
// and so that the memory of a walk is one batch and a small stack, however many messages
// match (a "#" over a million retained topics).
//
// Each Next holds a shard's read lock only while it fills the batch. Between batches the
// index may change: a message set or replaced before the walk and still there when the walk
// reaches its place is returned once, with its latest value; a message deleted before the
// walk reaches it is not returned; a message set while the walk runs may or may not be
// (a subscriber gets such a message by routing anyway). The order is the one Match uses.
//
// Concurrency: a cursor belongs to one goroutine at a time; any number of cursors, Match,
// Set and Delete may run on the same index at once. The zero value is ready for Start; a
// cursor can be reused (Start again) and pooled (Reset first, to drop its references).
type RetainedCursor[V any] struct {
	r     *Retained[V]
	f     filterLevels
	shard int // shard being walked
	last  int // last shard to walk; shard > last when done
	// stack is the walk's position in the current shard: empty before the shard's root is
	// entered (started false) and after the shard is done.
	stack   []cursorFrame[V]
	started bool
	// hold counts the lock holds (Next calls): a frame's pos is valid only within the hold
	// that set it, since the kids slice may be compacted in between.
	hold uint64
}

// cursorFrame is one node on the walk's path.
type cursorFrame[V any] struct {
	n *rnode[V]
	// i is the filter level the node stands at (levels 0..i-1 matched it), or -1 inside a
	// "#", where the node and all below it match.
	i int
	// self reports whether the node's own message was dealt with.
	self bool
	// next is the seq from which the node's children are still to be walked.
	next uint64
	// pos is where next is in the node's kids during hold number hold; a later hold finds
	// it again by seq.
	pos  int
	hold uint64
}

// Start positions c before the first retained message of r matching filter, with the rules
// of Match (no $share/ prefix; '$' topics are not matched by a leading wildcard). It returns
// ErrInvalidFilter for a malformed filter, and c then returns nothing.
func (c *RetainedCursor[V]) Start(r *Retained[V], filter string) error {
	c.r = r
	c.stack = c.stack[:0]
	c.started = false
	if !c.f.split(filter) {
		c.shard, c.last = 1, 0
		return ErrInvalidFilter
	}
	if first := c.f.lvl[0]; first != "+" && first != "#" {
		c.shard = int(r.shardIndex(first))
		c.last = c.shard
	} else {
		c.shard, c.last = 0, numShards-1
	}
	return nil
}

// Next appends up to max of the next matching messages to dst and returns it. It returns dst
// unchanged once the walk is over.
func (c *RetainedCursor[V]) Next(dst []V, max int) []V {
	want := len(dst) + max
	for c.shard <= c.last && len(dst) < want {
		sh := &c.r.shards[c.shard]
		sh.mu.RLock()
		c.hold++
		if !c.started {
			c.stack = append(c.stack[:0], cursorFrame[V]{n: &sh.root, hold: c.hold})
			c.started = true
		}
		dst = c.walk(dst, want)
		sh.mu.RUnlock()
		if len(c.stack) == 0 {
			c.shard++
			c.started = false
		}
	}
	return dst
}

// Done reports whether the walk is over.
func (c *RetainedCursor[V]) Done() bool { return c.shard > c.last }

// Reset ends the walk and drops the cursor's references to the index.
func (c *RetainedCursor[V]) Reset() {
	clear(c.stack)
	c.stack = c.stack[:0]
	c.r = nil
	c.shard, c.last = 1, 0
	c.started = false
	clear(c.f.lvl[:c.f.n])
	c.f.n = 0
}

// walk continues the walk of the current shard (its read lock held) until dst has want
// messages or the shard is done (the stack is empty).
func (c *RetainedCursor[V]) walk(dst []V, want int) []V {
	f := &c.f
	for len(c.stack) > 0 {
		top := &c.stack[len(c.stack)-1]
		n := top.n
		lvl := ""
		if top.i >= 0 && top.i < f.n {
			lvl = f.lvl[top.i]
		}
		if !top.self {
			// "a/#" matches "a" itself, but "#" does not match the root.
			if n.has && (top.i < 0 || top.i == f.n || lvl == "#" && top.i > 0) {
				if len(dst) == want {
					return dst
				}
				dst = append(dst, n.value)
			}
			top.self = true
			if top.i == f.n {
				c.stack = c.stack[:len(c.stack)-1]
				continue
			}
			if top.i >= 0 && lvl != "+" && lvl != "#" {
				// A plain level has at most one child to follow: the frame becomes it.
				i := top.i
				c.stack = c.stack[:len(c.stack)-1]
				if k := n.child(lvl); k != nil {
					c.stack = append(c.stack, cursorFrame[V]{n: k, i: i + 1, hold: c.hold})
				}
				continue
			}
		}
		if top.hold != c.hold {
			top.pos, top.hold = n.kidIndex(top.next), c.hold
		}
		var k *rnode[V]
		for top.pos < len(n.kids) {
			k = n.kids[top.pos]
			top.pos++
			if !k.removed {
				break
			}
			k = nil
		}
		if k == nil {
			c.stack = c.stack[:len(c.stack)-1]
			continue
		}
		top.next = k.seq + 1
		if top.i == 0 && len(k.name) > 0 && k.name[0] == '$' {
			continue // [MQTT-4.7.2-1]: a leading wildcard does not match '$' topics
		}
		i := -1
		if lvl == "+" {
			i = top.i + 1
		}
		c.stack = append(c.stack, cursorFrame[V]{n: k, i: i, hold: c.hold})
	}
	return dst
}
