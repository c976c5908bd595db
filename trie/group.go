package trie

import "sync/atomic"

// Group is one shared subscription: every subscriber of "$share/<Name>/<Filter>"
// (or "$queue/<Filter>", whose Name is "$queue"). A match reports the group
// once; the engine picks the member that receives the message.
//
// A Group object stays the same while it has members, whatever joins or
// leaves, so Cursor keeps the engine's selection state across membership
// changes. When its last member leaves the group is dropped from the index; a
// later subscribe creates a new Group with a zero cursor. Holding a *Group
// after that is safe: it simply no longer changes.
type Group[K comparable] struct {
	// Cursor is free for the engine's member selection (round robin counter,
	// sticky index, ...). The index never reads or writes it.
	Cursor atomic.Uint64

	name    string
	filter  string
	members atomic.Pointer[[]Member[K]]
}

// Name returns the share name ("$queue" for $queue/ subscriptions).
// Safe for concurrent use.
func (g *Group[K]) Name() string { return g.name }

// Filter returns the topic filter without the $share/<name>/ or $queue/
// prefix. Safe for concurrent use.
func (g *Group[K]) Filter() string { return g.filter }

// Members returns the current members. The slice is an immutable snapshot
// shared with the index and other readers: never modify it. It stays valid
// (and unchanged) for as long as the caller keeps it; later membership changes
// publish a new slice. It is never empty for a group reported by a match,
// except after the group has been emptied concurrently.
// Safe for concurrent use, lock-free.
func (g *Group[K]) Members() []Member[K] {
	if p := g.members.Load(); p != nil {
		return *p
	}
	return nil
}

// put adds or replaces a member; shard lock held. Group membership is a
// copy-on-write slice: O(members) per change, which suits the usual worker
// pools of a few to a few thousand members and keeps selection O(1).
func (g *Group[K]) put(m Member[K]) bool {
	cur := g.Members()
	for i := range cur {
		if cur[i].Handle == m.Handle {
			ns := make([]Member[K], len(cur))
			copy(ns, cur)
			ns[i] = m
			g.members.Store(&ns)
			return false
		}
	}
	ns := make([]Member[K], len(cur)+1)
	copy(ns, cur)
	ns[len(cur)] = m
	g.members.Store(&ns)
	return true
}

// remove drops a member and reports whether it was present; shard lock held.
func (g *Group[K]) remove(k K) bool {
	cur := g.Members()
	for i := range cur {
		if cur[i].Handle == k {
			if len(cur) == 1 {
				g.members.Store(nil)
				return true
			}
			ns := make([]Member[K], 0, len(cur)-1)
			ns = append(append(ns, cur[:i]...), cur[i+1:]...)
			g.members.Store(&ns)
			return true
		}
	}
	return false
}
