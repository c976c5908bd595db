package engine

import (
	"github.com/emqgo/emqgo/engine/acl"
)

// aclCache remembers a connection's recent publish decisions, as EMQX's enable_acl_cache,
// acl_cache_max_size and acl_cache_ttl do: a client that publishes to the same few topics
// (the usual device) is checked against the rules once per topic and TTL instead of on
// every message. Only publish decisions are cached (subscriptions are rare), so an idle
// subscriber carries no cache. Decisions made under other rules (acl reload) are not used.
// Owned by the connection's loop.
type aclCache struct {
	rules   *acl.Rules
	entries []aclEntry
	next    int // slot the next insertion replaces once the cache is full
}

type aclEntry struct {
	topic   string
	allow   bool
	expires int64 // unix nanoseconds
}

// get returns the cached decision for topic under rules at unix-nanosecond time now.
func (a *aclCache) get(rules *acl.Rules, topic []byte, now int64) (allow, ok bool) {
	if a.rules != rules {
		return false, false
	}
	for i := range a.entries {
		e := &a.entries[i]
		if e.topic == string(topic) { // no allocation: the conversion is only compared
			if now >= e.expires {
				return false, false
			}
			return e.allow, true
		}
	}
	return false, false
}

// put records a decision, replacing an expired or the oldest entry once max are held.
func (a *aclCache) put(rules *acl.Rules, topic []byte, allow bool, now, ttl int64, max int) {
	if a.rules != rules {
		a.rules = rules
		a.entries = a.entries[:0]
		a.next = 0
	}
	e := aclEntry{topic: string(topic), allow: allow, expires: now + ttl}
	for i := range a.entries {
		if a.entries[i].topic == e.topic || now >= a.entries[i].expires {
			a.entries[i] = e
			return
		}
	}
	if len(a.entries) < max {
		a.entries = append(a.entries, e)
		return
	}
	a.entries[a.next] = e
	a.next = (a.next + 1) % max
}
