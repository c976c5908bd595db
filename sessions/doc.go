// Package sessions holds MQTT session state: the messages a session owes its client (the
// offline queue and the outbound inflight window), the inbound QoS 2 packet identifiers
// awaiting PUBREL, packet identifier allocation, subscriptions, and the registry that maps
// client identifiers to sessions.
//
// # Ownership and concurrency
//
// A Session is guarded by its own mutex (Lock/Unlock). The event loop that owns the
// session's connection does almost all of the work, so the lock is uncontended in the common
// case; other loops take it only to enqueue a message for the session (cross-loop delivery),
// and the connect path takes it to attach or detach a connection (takeover, expiry). The
// window, queue and pending-release types are plain data structures without locks: they are
// only touched with the session lock held.
//
// A Message is immutable once built and shared by pointer between every session it is
// delivered to, on any loop: the payload is copied once per publish, never per subscriber.
//
// # Imports
//
// sessions imports codec, trie, sessions/kvlog (under Store) and two small third-party
// packages (xxhash, bytebufferpool); never the engine. engine and the binaries import it.
package sessions
