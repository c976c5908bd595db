package authmysql

import (
	"context"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// aclColumns is how many columns acl_query returns: allow, ipaddr, username, clientid,
// access, topic, in this order (EMQX reads them by position).
const aclColumns = 6

// Authorize implements engine.Authorizer with EMQX's semantics: acl_query returns rows of the
// mqtt_acl table (see acl.TableRow), tried in the order returned (an ORDER BY in the query
// sets it); the first row whose access covers the request and whose ipaddr, username and
// clientid match the client decides, allow 1 allowing and allow 0 denying. No rows, no
// matching row, or a client that cannot fill the query's placeholders is ignored: the rest of
// the chain and acl.conf decide. When the server does not answer, refuses the query, or
// returns rows that cannot be read, the request is denied.
func (p *Plugin) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	if p.cfg.ACLQuery.IsZero() {
		return engine.AuthIgnore
	}
	args, ok := p.cfg.ACLQuery.Args(ci)
	if !ok {
		return engine.AuthIgnore
	}
	cols, rows, err := p.query(ctx, p.cfg.ACLQuery, args)
	if err != nil {
		p.log.Debug("access denied: acl_query failed", "client", ci.ClientID, "err", err.Error())
		return engine.AuthDeny
	}
	if len(rows) == 0 {
		return engine.AuthIgnore
	}
	if len(cols) != aclColumns {
		p.log.Warn("access denied: acl_query must return the columns allow, ipaddr, username, clientid, access, topic", "columns", len(cols), "query", p.cfg.ACLQuery.String())
		return engine.AuthDeny
	}
	table := make([]acl.TableRow, len(rows))
	for i, r := range rows {
		table[i] = acl.TableRow{Allow: r[0], IPAddr: r[1], Username: r[2], ClientID: r[3], Access: r[4], Topic: r[5]}
	}
	rules, err := acl.CompileTable(Name, table)
	if err != nil {
		p.log.Warn("access denied: "+err.Error(), "client", ci.ClientID)
		return engine.AuthDeny
	}
	c := acl.Client{Username: ci.Username, ClientID: ci.ClientID, Addr: ci.Peer.Addr()}
	switch rules.Check(&c, access, []byte(topic)) {
	case acl.Allow:
		return engine.AuthAllow
	case acl.Deny:
		return engine.AuthDeny
	}
	return engine.AuthIgnore
}

var _ engine.Authorizer = (*Plugin)(nil)
