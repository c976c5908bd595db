package authmongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// Authorize implements engine.Authorizer with EMQX's semantics: each ACL selector finds at most
// one document of the ACL collection; the topic filters of their publish (or subscribe) and
// pubsub arrays are the client's rules. No document (or a client whose user name starts with
// '$', or lacking every selector's values) is ignored: the rest of the chain, acl.conf and
// acl_nomatch decide. Otherwise a filter that matches the request allows it (%u and %c levels
// substituted, as acl.conf's allow rules match) and none matching denies it. When the server
// does not answer or refuses a query, the request is denied.
func (p *Plugin) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	q := &p.cfg.ACLQuery
	if q.Collection == "" || len(ci.Username) > 0 && ci.Username[0] == '$' {
		return engine.AuthIgnore
	}
	field := "publish"
	if access == acl.Subscribe {
		field = "subscribe"
	}
	var docs []bson.M
	for _, sel := range q.Selectors {
		filter, ok := sel.Filter(ci)
		if !ok {
			continue
		}
		doc, err := p.findOne(ctx, q.Collection, filter)
		if err != nil {
			p.log.Debug("access denied: acl_query failed", "client", ci.ClientID, "err", err.Error())
			return engine.AuthDeny
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return engine.AuthIgnore
	}
	c := acl.Client{Username: ci.Username, ClientID: ci.ClientID, Addr: ci.Peer.Addr()}
	for _, doc := range docs {
		for _, name := range []string{field, "pubsub"} {
			for _, filter := range filterList(doc[name]) {
				f, err := acl.CompileFilter(filter)
				if err != nil {
					continue // a value no request can match
				}
				if f.Allows(&c, access, []byte(topic)) {
					return engine.AuthAllow
				}
			}
		}
	}
	return engine.AuthDeny
}

// filterList reads a field holding a topic filter or an array of them; anything else is none.
func filterList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case bson.A:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var _ engine.Authorizer = (*Plugin)(nil)
