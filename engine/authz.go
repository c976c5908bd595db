package engine

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
)

// Authorizer is one link of the access-control chain (the ACL side of EMQX's auth plugins:
// HTTP acl_req, Redis, MySQL, PostgreSQL, MongoDB, LDAP...). Authorize may block on a network
// backend: the engine calls it on its side pool, never on an event loop, with a deadline in
// ctx, and parks the connection's input (in order) until the answer comes back. It answers
// AuthAllow, AuthDeny, or AuthIgnore to pass the decision to the next link; when every link
// ignores, etc/acl.conf decides, then acl_nomatch. Implementations must be safe for concurrent
// use; c and topic are owned by the call.
type Authorizer interface {
	Name() string
	Authorize(ctx context.Context, c *ClientInfo, access acl.Access, topic string) AuthDecision
}

// DefaultACLTimeout bounds one run of the access-control chain when Config.ACLTimeout is 0;
// past it the access is denied.
const DefaultACLTimeout = 5 * time.Second

func (n *Node) aclTimeout() time.Duration {
	if n.cfg.ACLTimeout > 0 {
		return n.cfg.ACLTimeout
	}
	return DefaultACLTimeout
}

// SetAuthorizers installs the access-control chain, in order. Safe from any goroutine; checks
// already running finish with the chain they started with.
func (n *Node) SetAuthorizers(chain ...Authorizer) {
	cp := append([]Authorizer(nil), chain...)
	n.authz.Store(&cp)
}

func (n *Node) authzChain() []Authorizer {
	if p := n.authz.Load(); p != nil {
		return *p
	}
	return nil
}

// aclAnswer is the outcome of one access check on the loop.
type aclAnswer uint8

const (
	aclAllow   aclAnswer = iota
	aclDeny              // denied: the caller refuses the publish or subscription
	aclPending           // a backend must be asked: the caller parks the packet (see parkACL)
)

// errParked is returned by a packet handler whose packet waits for an access decision: the
// packet stays in the connection's input and is handled again once the answer is in.
var errParked = errors.New("engine: packet parked until the access-control chain answers")

// aclDecision is an answer of the access-control chain, kept on the connection while the
// packets that waited for it are handled again.
type aclDecision struct {
	access acl.Access
	topic  string
	allow  bool
}

// authorize decides whether c may publish to or subscribe to topic. Decisions known at once
// (ACL off, superuser, the connection's cache, acl.conf when no Authorizer is installed) cost
// no allocation and no task; otherwise the answer is aclPending, unless the chain answered it
// for the packet being handled again.
func (n *Node) authorize(c *conn, access acl.Access, topic []byte) aclAnswer {
	if !c.lis.Zone.EnableACL || c.has(flagSuperuser) {
		return aclAllow
	}
	r := n.acl.Load()
	cache := access == acl.Publish && n.cfg.ACLCacheSize > 0
	if cache && c.ext != nil {
		if allow, ok := c.ext.acl.get(r, topic, c.loop.now); ok {
			return answer(allow)
		}
	}
	var allow bool
	switch {
	case c.ext != nil && len(c.ext.decided) > 0 && c.decided(access, topic, &allow):
	case len(n.authzChain()) > 0:
		return aclPending
	default:
		allow = n.checkRules(r, c.username, c.clientID, c.peer, access, topic)
	}
	if cache {
		c.extra().acl.put(r, topic, allow, c.loop.now, int64(n.cfg.ACLCacheTTL), n.cfg.ACLCacheSize)
	}
	return answer(allow)
}

func answer(allow bool) aclAnswer {
	if allow {
		return aclAllow
	}
	return aclDeny
}

// decided looks topic up in the answers the chain gave for the packets being handled again.
func (c *conn) decided(access acl.Access, topic []byte, allow *bool) bool {
	for _, d := range c.ext.decided {
		if d.access == access && d.topic == string(topic) {
			*allow = d.allow
			return true
		}
	}
	return false
}

// checkRules applies etc/acl.conf, then acl_nomatch (unset allows, as EMQX's default).
func (n *Node) checkRules(r *acl.Rules, username, clientID string, peer netip.Addr, access acl.Access, topic []byte) bool {
	res := acl.NoMatch
	if r != nil {
		cl := acl.Client{Username: username, ClientID: clientID, Addr: peer}
		res = r.Check(&cl, access, topic)
	}
	if res == acl.NoMatch {
		res = n.cfg.ACLNoMatch
	}
	return res != acl.Deny
}

// runAuthz runs the access-control chain for one topic. On the side pool.
func (n *Node) runAuthz(ctx context.Context, info *ClientInfo, access acl.Access, topic string) bool {
	for _, a := range n.authzChain() {
		switch a.Authorize(ctx, info, access, topic) {
		case AuthAllow:
			return true
		case AuthDeny:
			n.log.Info("access denied", "client", info.ClientID, "username", info.Username, "access", access.String(), "topic", topic, "by", a.Name())
			return false
		}
		if ctx.Err() != nil {
			n.log.Warn("access denied: the access-control chain did not answer in time", "client", info.ClientID, "access", access.String(), "topic", topic, "timeout", n.aclTimeout().String(), "waiting_for", a.Name())
			return false
		}
	}
	return n.checkRules(n.acl.Load(), info.Username, info.ClientID, info.Peer.Addr(), access, []byte(topic))
}

// clientInfo describes c for authenticators and authorizers (owned copy).
func (c *conn) clientInfo() *ClientInfo {
	info := &ClientInfo{
		ClientID: c.clientID,
		Username: c.username,
		Peer:     c.remote(),
		Version:  c.version,
		Listener: c.lis.Name,
		Local:    addrPort(c.tr.LocalAddr()),
	}
	if c.lis.Zone.Mountpoint != "" {
		info.Mountpoint = string(c.loop.n.mount(c.lis.Zone, c, nil))
	}
	c.setCert(info)
	return info
}

// parkACL stops c's input at the packet being handled and asks the access-control chain about
// reqs on the side pool. When the answers are in, the loop handles the parked packet and what
// followed it again, in order, with the answers (the cache keeps publish decisions). The caller
// returns errParked. When the side pool is full, the answer is a denial, given at once: parkACL
// then reports false and the caller handles the packet again.
func (c *conn) parkACL(reqs []aclDecision) bool {
	l := c.loop
	n := l.n
	reqs = append([]aclDecision(nil), reqs...) // the caller's slice is scratch
	info := c.clientInfo()
	c.set(flagParked)
	err := n.pool.Submit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.aclTimeout())
		for i := range reqs {
			reqs[i].allow = n.runAuthz(ctx, info, reqs[i].access, reqs[i].topic)
		}
		cancel()
		if err := l.el.Execute(context.Background(), runFunc(func() {
			if c.state != stateConnected || !c.has(flagParked) {
				return // closed while waiting
			}
			l.begin()
			c.unset(flagParked)
			x := c.extra()
			x.decided = reqs
			c.onTraffic()
			x.decided = nil
			l.end()
		})); err != nil {
			n.log.Debug("access decision dropped: engine stopping", "client", info.ClientID)
		}
	})
	if err == nil {
		l.stats.ACLParked++
		return true
	}
	c.unset(flagParked)
	l.stats.AuthOverload++
	n.log.Warn("access denied: authorization backlog full", "client", c.clientID)
	for i := range reqs {
		reqs[i].allow = false
	}
	c.extra().decided = reqs
	return false
}
