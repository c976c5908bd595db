package sessions

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const registryShards = 64

// Registry maps client identifiers to sessions, sharded by xxhash of the identifier so that
// connects on different event loops rarely share a lock. Safe for concurrent use. CONNECT
// and session expiry use it; the publish path never does (subscribers are found through the
// trie, which holds session pointers).
type Registry struct {
	shards     [registryShards]registryShard
	count      atomic.Int64
	persistent atomic.Int64
	max        atomic.Int64
	maxPersist atomic.Int64
}

type registryShard struct {
	mu   sync.Mutex
	m    map[string]*Session
	peak int      // most entries m held since it was made (shrink)
	_    [32]byte // keep shards on separate cache lines
}

// shardRebuildFrom is the peak from which a shard's map is rebuilt once its entries fall to
// a quarter of it: a Go map keeps the buckets of its largest size, so the churn of a few
// thousand connections would leave them behind for the life of the process.
const shardRebuildFrom = 32

// shrink rebuilds sh.m for its live entries when they are a quarter of its peak or fewer
// (amortised constant time: the copy is at most a third of the deletions since the peak).
// The shard's lock must be held.
func (sh *registryShard) shrink() {
	if sh.peak < shardRebuildFrom || len(sh.m) > sh.peak/4 {
		return
	}
	m := make(map[string]*Session, len(sh.m))
	for k, v := range sh.m {
		m[k] = v
	}
	sh.m, sh.peak = m, len(m)
}

func (r *Registry) shard(clientID string) *registryShard {
	return &r.shards[xxhash.Sum64String(clientID)%registryShards]
}

// Get returns the session of clientID, or nil.
func (r *Registry) Get(clientID string) *Session {
	sh := r.shard(clientID)
	sh.mu.Lock()
	s := sh.m[clientID]
	sh.mu.Unlock()
	return s
}

// Update runs fn with the current session of clientID (nil if none) while holding that
// identifier's shard lock, and stores what fn returns (nil removes the entry). It is the one
// way to make connect, takeover and expiry of the same client identifier atomic. fn must not
// call back into the registry.
func (r *Registry) Update(clientID string, fn func(old *Session) *Session) *Session {
	sh := r.shard(clientID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.m[clientID]
	s := fn(old)
	switch {
	case s == nil && old != nil:
		delete(sh.m, clientID)
		r.count.Add(-1)
		sh.shrink()
	case s != nil:
		if sh.m == nil {
			sh.m = make(map[string]*Session)
		}
		sh.m[clientID] = s
		sh.peak = max(sh.peak, len(sh.m))
		if old == nil {
			n := r.count.Add(1)
			for m := r.max.Load(); n > m && !r.max.CompareAndSwap(m, n); m = r.max.Load() {
			}
		}
	}
	return s
}

// Len returns the number of sessions.
func (r *Registry) Len() int64 { return r.count.Load() }

// Max returns the largest number of sessions seen at once.
func (r *Registry) Max() int64 { return r.max.Load() }

// AddPersistent adjusts the count of persistent sessions (those that outlive their
// connection) by d; the engine calls it when a session's expiry interval changes.
func (r *Registry) AddPersistent(d int64) {
	n := r.persistent.Add(d)
	for m := r.maxPersist.Load(); n > m && !r.maxPersist.CompareAndSwap(m, n); m = r.maxPersist.Load() {
	}
}

// Persistent returns the current and maximum number of persistent sessions.
func (r *Registry) Persistent() (count, max int64) {
	return r.persistent.Load(), r.maxPersist.Load()
}

// Range calls fn for every session until fn returns false. It holds one shard lock at a time,
// so fn must not call back into the registry; sessions added or removed meanwhile may or may
// not be seen.
func (r *Registry) Range(fn func(*Session) bool) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, s := range sh.m {
			if !fn(s) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}
