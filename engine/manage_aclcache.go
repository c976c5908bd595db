package engine

import (
	"context"
	"slices"
	"time"
)

// The ACL cache of the management API (EMQX 4.x's GET and DELETE
// /api/v4/clients/{clientid}/acl_cache): what a connected client's cache holds now, and
// emptying it. See manage.go for the ways in.

// ACLCacheEntry is one cached decision of a connection (aclcache.go): only publish decisions
// are cached.
type ACLCacheEntry struct {
	Topic   string    // the topic as checked (under the mountpoint)
	Publish bool      // the access: always publish today
	Allow   bool      // the decision
	Updated time.Time // when it was decided
	Expires time.Time // when it stops being used (acl_cache_ttl later)
}

// ACLCache returns the decisions the connected client clientID has cached and still uses
// (unexpired, made under the rules in force), oldest first; ErrNoClient when it is not
// connected. Cost: one task on the client's loop.
func (n *Node) ACLCache(ctx context.Context, clientID string) ([]ACLCacheEntry, error) {
	c := n.ownerOf(clientID)
	if c == nil {
		return nil, ErrNoClient
	}
	type answer struct {
		entries []ACLCacheEntry
		ok      bool
	}
	ttl := int64(n.cfg.ACLCacheTTL)
	rules := n.acl.Load()
	a, err := runOnLoop(ctx, c.loop, func() answer {
		if !c.online() {
			return answer{}
		}
		if c.ext == nil || c.ext.acl.rules != rules {
			return answer{ok: true}
		}
		var out []ACLCacheEntry
		for _, e := range c.ext.acl.entries {
			if c.loop.now >= e.expires {
				continue
			}
			out = append(out, ACLCacheEntry{Topic: e.topic, Publish: true, Allow: e.allow,
				Updated: time.Unix(0, e.expires-ttl), Expires: time.Unix(0, e.expires)})
		}
		return answer{out, true}
	})
	if err != nil {
		return nil, err
	}
	if !a.ok {
		return nil, ErrNoClient
	}
	slices.SortStableFunc(a.entries, func(x, y ACLCacheEntry) int { return x.Updated.Compare(y.Updated) })
	return a.entries, nil
}

// CleanACLCache empties the ACL cache of the connected client clientID: its next publishes
// are checked against the rules again. ErrNoClient when it is not connected. Cost: one task
// on the client's loop.
func (n *Node) CleanACLCache(ctx context.Context, clientID string) error {
	c := n.ownerOf(clientID)
	if c == nil {
		return ErrNoClient
	}
	ok, err := runOnLoop(ctx, c.loop, func() bool {
		if !c.online() {
			return false
		}
		if c.ext != nil {
			c.ext.acl = aclCache{}
		}
		return true
	})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoClient
	}
	return nil
}
