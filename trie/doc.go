// Package trie holds the broker's two topic indexes: the subscription index
// (Index), matched on every PUBLISH, and the retained-message index
// (Retained), looked up on every SUBSCRIBE. It imports only the standard
// library and xxhash (sessions and engine import it), and knows nothing of
// connections, sessions or packets: subscribers are a small comparable handle
// K chosen by the engine, retained messages an opaque value V.
//
// # Matching rules
//
// Filters follow MQTT 4.7: '+' matches exactly one level (an empty one too),
// '#' matches the rest, including the parent level ("a/#" matches "a"), empty
// levels are ordinary levels ("a//b", "/a"). Topics whose first level starts
// with '$' are not matched by filters whose first level is a wildcard
// [MQTT-4.7.2-1], so "$SYS/#" reaches only filters that start with "$SYS".
// "$share/<group>/<filter>" and "$queue/<filter>" (EMQX's shared group named
// "$queue") are stored per group on the plain filter's node: a match reports
// every ordinary subscription and, once per group, the Group with its
// members; choosing the member is the engine's job (Group.Cursor keeps its
// state). Topics and filters deeper than MaxLevels never match and are
// rejected; nothing in the package panics on them.
//
// # How readers avoid locks
//
// The tree is split into 16 shards by the xxhash of a filter's first level,
// plus one shard for filters that start with a wildcard. A topic visits its
// first level's shard and, unless it starts with '$', the wildcard shard.
// Writers (SUBSCRIBE, UNSUBSCRIBE, session expiry) take their shard's mutex;
// readers take nothing.
//
// Every mutable part of a node sits behind an atomic pointer to data that is
// never changed once published, or changed in place one atomic slot at a
// time (read-copy-update per node rather than one snapshot of the whole
// tree): the named children, the leaf (subscribers and shared groups), the
// '+' and '#' children, and each group's member slice. A writer builds the
// new piece aside and publishes it with one atomic store, so a concurrent
// match sees every filter before or after a change, never half of it, and a
// subscription that nobody touches is reported exactly once. Unsubscribe
// prunes nodes left empty; a reader already inside a pruned node just finds
// it empty.
//
// # Node layout: few fetches per level
//
// On a big tree every level of a match is a cache miss or several, so the
// layout is about dependent memory fetches. A node is 56 bytes (int handles)
// and stores its level name right after itself in the same allocation
// (names.go): with a name of up to 8 bytes, node and name are one 64-byte
// object. Named children take one of two forms (table.go): a single child is
// a direct pointer (node -> child, the usual case for levels such as "dev"
// or "temp"); two or more live in an open-addressing table whose slots point
// straight at the child nodes, each carrying its name's 32-bit seeded hash
// (node -> table -> slot -> child, neighbouring probes sharing a cache line).
// A filter's subscriptions hang off the node as a leaf whose first member is
// inline (node -> leaf). A level with many children used to cost seven
// dependent fetches (set, table, bucket array, bucket slice header, entries,
// name string, node) and a level with one child four; they now cost three
// and one.
//
// # How big fan-outs stay cheap to change
//
// Copy-on-write of a whole child map or subscriber list would make the
// millionth "devices/<id>/cmd" subscription, or a subscriber joining a
// 100 000-subscriber filter, copy everything. A child table is changed in
// place: an insert fills a free slot, a delete leaves a tombstone, and the
// table is rebuilt (published whole, the old one never written again) only
// when live entries plus tombstones pass 3/4 of the slots or it becomes
// mostly empty, so a change is amortized O(1); entries never move within a
// table, which is what lets a reader probe while the writer works. Up to 16
// subscribers sit in the leaf, replaced whole; beyond that they move to a
// hash table whose buckets are immutable slices behind their own atomic
// pointers (set.go), so a change copies one bucket of about six entries. The
// table doubles when the average bucket passes six entries and folds back
// into the leaf when it shrinks. Entries live in the bucket chosen by their
// key's hash, which keeps a concurrent reader from seeing an entry twice or
// missing one. Group members are a copy-on-write slice (O(members) per join
// or leave), which keeps member selection O(1) for the usual groups of a few
// to a few thousand members.
//
// Apply takes a batch of subscribes and unsubscribes and locks each shard once
// for all of its operations (a SUBSCRIBE with many filters, sessions restored
// after a restart). Because every change copies at most one bucket, a burst
// never makes readers wait or walk copies of large structures.
//
// # Match cost
//
// Match tokenizes the topic into a fixed array on the stack, walks only the
// branches that can match and reports through a Visitor, allocating nothing.
// Matches is the Visitor the engine keeps per event loop: it merges a
// subscriber reached through several filters into one delivery at the highest
// QoS with all its subscription identifiers, skips NoLocal subscriptions of
// the publisher, and allocates nothing once warm. A single filter's
// subscribers are appended without any merging work, so a 100 000-subscriber
// fan-out costs a few nanoseconds per subscriber.
//
// # Routes listing
//
// Index.Filters walks the tree the way a match does, without locks, and
// reports each filter that has subscriptions with its subscriber count (the
// rows of EMQX's "emqx_ctl routes list"); Stats gives the totals.
//
// # Retained messages
//
// Retained keeps topic -> value in a plain tree of the same 16 shards, each
// under a sync.RWMutex (writes come from any event loop, reads from SUBSCRIBE
// handling, and neither is on the per-message fan-out path). A node keeps its
// children in a slice in the order they were added, and indexes them in a map
// for lookups past 16 children. Match walks only the branches the filter
// selects: "site/7/dev/+/temp" reads one site's children, never the other
// retained topics. Match calls back under the shard's read lock; a caller that
// locks or writes per message (the SUBSCRIBE replay) walks with a
// RetainedCursor instead, which takes the lock per batch and resumes by each
// child's insertion number, so that the index can change between batches.
// Limits on the number of messages and the payload size return
// ErrRetainedFull and ErrPayloadTooLarge.
//
// # Memory
//
// Memory grows with the number of distinct filters and subscriptions: a node
// is 56 bytes plus its name, a child table 11 to 32 bytes per child, a
// subscription is a handle plus 8 bytes of Options in its filter's leaf.
// BenchmarkMemory (here and in bench/compare) reports heap bytes per
// subscription; for 1 M subscriptions of the "site/<s>/dev/<id>/temp" mix
// with int handles it measured about 211 B per subscription (283 B before
// the node layout above), against about 1 770 B for mochi-mqtt's index.
package trie
