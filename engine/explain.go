package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// ACLSource names what decides an access check, in the order the engine asks them.
type ACLSource string

// The sources of an access decision (ACLExplanation.Source).
const (
	ACLSourceDisabled   ACLSource = "acl_disabled" // the client's zone has enable_acl off: everything is allowed
	ACLSourceSuperuser  ACLSource = "superuser"    // the client authenticated as a superuser: everything is allowed
	ACLSourceCache      ACLSource = "acl_cache"    // a publish decision cached on the connection (enable_acl_cache)
	ACLSourceAuthorizer ACLSource = "authorizer"   // a link of the access-control chain (SetAuthorizers)
	ACLSourceFile       ACLSource = "acl_file"     // a rule of acl.conf
	ACLSourceNoMatch    ACLSource = "acl_nomatch"  // no rule matched: acl_nomatch decides
)

// ACLExplanation says how the engine would decide one publish or subscribe of a connected
// client now, and why. It is a copy owned by the caller.
type ACLExplanation struct {
	ClientID string
	Username string
	Peer     netip.Addr
	Zone     string
	Access   acl.Access // acl.Publish or acl.Subscribe
	Topic    string     // as asked
	// Checked is what the check sees: Topic after the rewrite rules and the zone's
	// mountpoint, without a $share/<group>/ or $queue/ prefix.
	Checked string
	Allow   bool
	Source  ACLSource
	// Authorizer names the chain link that decided (Source ACLSourceAuthorizer); Ignored lists
	// the links asked before that passed the question on, in order.
	Authorizer string
	Ignored    []string
	// File and Rule are the acl.conf file and its deciding rule (Source ACLSourceFile); File
	// is also set for ACLSourceNoMatch when rules are loaded.
	File string
	Rule acl.Rule
	// CacheExpires is when the cached decision lapses (Source ACLSourceCache).
	CacheExpires time.Time
	// Reason is one sentence saying why, for people.
	Reason string
}

// explainFacts is what ExplainACL reads on the client's loop.
type explainFacts struct {
	ok        bool
	info      *ClientInfo
	zone      string
	enabled   bool
	superuser bool
	checked   string
	err       error
	cached    bool
	allow     bool
	expires   int64
}

// ExplainACL evaluates, without side effects on the client or the node, whether the connected
// client clientID may publish to (access acl.Publish) or subscribe to (acl.Subscribe) topic, by
// the same sources in the same order as the engine: the zone's enable_acl, superuser, the
// connection's ACL cache (publish only), the access-control chain, acl.conf, acl_nomatch. The
// cache is read, not filled. The chain's links are asked as for a real check (on the caller's
// goroutine, with the node's ACL timeout): a backend sees a query. Errors: ErrNoClient, an
// invalid topic name (publish) or filter (subscribe), a topic the rewrite rules refuse, a loop
// that does not answer. Safe from any goroutine that is not an event loop.
func (n *Node) ExplainACL(ctx context.Context, clientID string, access acl.Access, topic string) (ACLExplanation, error) {
	switch access {
	case acl.Publish:
		if err := codec.ValidTopicName([]byte(topic)); err != nil {
			return ACLExplanation{}, fmt.Errorf("engine: invalid topic name %q: %w", topic, err)
		}
	case acl.Subscribe:
		if err := codec.ValidTopicFilter([]byte(topic)); err != nil {
			return ACLExplanation{}, fmt.Errorf("engine: invalid topic filter %q: %w", topic, err)
		}
	default:
		return ACLExplanation{}, errors.New("engine: access must be publish or subscribe, got " + access.String())
	}
	c := n.ownerOf(clientID)
	if c == nil {
		return ACLExplanation{}, ErrNoClient
	}
	f, err := runOnLoop(ctx, c.loop, func() explainFacts {
		if !c.online() {
			return explainFacts{}
		}
		return c.explainFacts(access, topic)
	})
	if err != nil {
		return ACLExplanation{}, err
	}
	if !f.ok {
		return ACLExplanation{}, ErrNoClient
	}
	if f.err != nil {
		return ACLExplanation{}, f.err
	}
	e := ACLExplanation{
		ClientID: f.info.ClientID, Username: f.info.Username, Peer: f.info.Peer.Addr(), Zone: f.zone,
		Access: access, Topic: topic, Checked: f.checked,
	}
	switch {
	case !f.enabled:
		e.Allow, e.Source = true, ACLSourceDisabled
		e.Reason = fmt.Sprintf("zone %q has enable_acl off: every publish and subscribe is allowed", f.zone)
		return e, nil
	case f.superuser:
		e.Allow, e.Source = true, ACLSourceSuperuser
		e.Reason = "the client authenticated as a superuser: access checks are skipped"
		return e, nil
	case f.cached:
		e.Allow, e.Source, e.CacheExpires = f.allow, ACLSourceCache, time.Unix(0, f.expires)
		e.Reason = fmt.Sprintf("the connection's ACL cache holds a %s decision for this topic until %s (acl_cache_ttl)",
			word(f.allow), e.CacheExpires.Format(time.RFC3339))
		return e, nil
	}
	if chain := n.authzChain(); len(chain) > 0 {
		actx, cancel := context.WithTimeout(ctx, n.aclTimeout())
		defer cancel()
		for _, a := range chain {
			d := a.Authorize(actx, f.info, access, f.checked)
			if d == AuthAllow || d == AuthDeny {
				e.Allow, e.Source, e.Authorizer = d == AuthAllow, ACLSourceAuthorizer, a.Name()
				e.Reason = fmt.Sprintf("authorizer %q answered %s", a.Name(), word(e.Allow))
				return e, nil
			}
			if actx.Err() != nil {
				e.Allow, e.Source, e.Authorizer = false, ACLSourceAuthorizer, a.Name()
				e.Reason = fmt.Sprintf("authorizer %q did not answer within %s: denied", a.Name(), n.aclTimeout())
				return e, nil
			}
			e.Ignored = append(e.Ignored, a.Name())
		}
	}
	r := n.acl.Load()
	e.File = r.Name()
	cl := acl.Client{Username: e.Username, ClientID: e.ClientID, Addr: e.Peer}
	if ru, found := r.Explain(&cl, access, []byte(e.Checked)); found {
		e.Allow, e.Source, e.Rule = ru.Permission == acl.Allow, ACLSourceFile, ru
		e.Reason = fmt.Sprintf("%s:%d: %s", e.File, ru.Line, ru.Text)
		return e, nil
	}
	e.Source = ACLSourceNoMatch
	e.Allow = n.cfg.ACLNoMatch != acl.Deny
	if r.Len() == 0 {
		e.Reason = "no acl.conf rules are loaded: acl_nomatch is " + word(e.Allow)
	} else {
		e.Reason = fmt.Sprintf("no rule of %s matches: acl_nomatch is %s", e.File, word(e.Allow))
	}
	return e, nil
}

// explainFacts reads, on c's loop, what ExplainACL needs of c: its identity, zone switches,
// the topic the check would see and a live cached decision.
func (c *conn) explainFacts(access acl.Access, topic string) explainFacts {
	n := c.loop.n
	f := explainFacts{ok: true, info: c.clientInfo(), zone: c.lis.Zone.Name, enabled: c.lis.Zone.EnableACL, superuser: c.has(flagSuperuser)}
	t := []byte(topic)
	if access == acl.Publish {
		if rw := n.cfg.RewritePublish; rw != nil {
			var err error
			if t, err = rewriteTopic(rw, t); err != nil {
				f.err = fmt.Errorf("engine: %w", err)
				return f
			}
		}
		f.checked = string(c.mountBytes(t))
		if n.cfg.ACLCacheSize > 0 && c.ext != nil {
			for _, en := range c.ext.acl.entries {
				if c.ext.acl.rules == n.acl.Load() && en.topic == f.checked && c.loop.now < en.expires {
					f.cached, f.allow, f.expires = true, en.allow, en.expires
				}
			}
		}
		return f
	}
	if rw := n.cfg.RewriteSubscribe; rw != nil {
		var ok bool
		if t, ok = rewriteFilter(rw, t); !ok {
			f.err = fmt.Errorf("engine: module.rewrite turns topic filter %q into an invalid filter", topic)
			return f
		}
	}
	if _, rest, shared := codec.SplitShared(t); shared {
		t = rest
	} else if rest, ok := bytes.CutPrefix(t, []byte("$queue/")); ok {
		t = rest
	}
	f.checked = string(c.mountBytes(t))
	return f
}

// word is "allow" or "deny".
func word(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}
