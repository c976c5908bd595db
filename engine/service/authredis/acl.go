package authredis

import (
	"context"
	"fmt"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// EMQX's access values of acl_cmd's hash (HSET mqtt_acl:user topic access).
const (
	accessSubscribe = "1"
	accessPublish   = "2"
	accessPubSub    = "3"
)

// Authorize implements engine.Authorizer with EMQX's semantics: acl_cmd returns a hash of
// topic filter → access (1 subscribe, 2 publish, 3 both). No rows (or a client that cannot
// fill the command's placeholders) is ignored: the rest of the chain and acl.conf decide.
// Otherwise a row whose access covers the request and whose filter matches the topic (%u and
// %c levels substituted, as acl.conf's allow rules match) allows, and no such row denies.
// When Redis does not answer, the request is denied.
func (p *Plugin) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	if p.cfg.ACLCmd.IsZero() {
		return engine.AuthIgnore
	}
	args, ok := p.cfg.ACLCmd.Args(ci)
	if !ok {
		return engine.AuthIgnore
	}
	v, err := p.do(ctx, args)
	if err != nil {
		p.log.Debug("access denied: acl_cmd failed", "client", ci.ClientID, "err", err.Error())
		return engine.AuthDeny
	}
	rows, err := hashRows(v)
	if err != nil {
		p.log.Warn("access denied: acl_cmd "+p.cfg.ACLCmd.String()+" did not return a hash", "client", ci.ClientID, "err", err.Error())
		return engine.AuthDeny
	}
	if len(rows) == 0 {
		return engine.AuthIgnore
	}
	want := accessPublish
	if access == acl.Subscribe {
		want = accessSubscribe
	}
	c := acl.Client{Username: ci.Username, ClientID: ci.ClientID, Addr: ci.Peer.Addr()}
	for _, r := range rows {
		if r.access != want && r.access != accessPubSub {
			continue
		}
		f, err := acl.CompileFilter(r.filter)
		if err != nil {
			continue // a row no request can match
		}
		if f.Allows(&c, access, []byte(topic)) {
			return engine.AuthAllow
		}
	}
	return engine.AuthDeny
}

type aclRow struct{ filter, access string }

// hashRows reads an HGETALL reply: a flat list of field, value (RESP2) or a map (RESP3).
func hashRows(v any) ([]aclRow, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(x)%2 != 0 {
			return nil, fmt.Errorf("a list of %d elements is no hash", len(x))
		}
		rows := make([]aclRow, 0, len(x)/2)
		for i := 0; i < len(x); i += 2 {
			f, ok1 := replyString(x[i])
			a, ok2 := replyString(x[i+1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("element of type %T or %T is no string", x[i], x[i+1])
			}
			rows = append(rows, aclRow{f, a})
		}
		return rows, nil
	case map[any]any:
		rows := make([]aclRow, 0, len(x))
		for k, val := range x {
			f, ok1 := replyString(k)
			a, ok2 := replyString(val)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("element of type %T or %T is no string", k, val)
			}
			rows = append(rows, aclRow{f, a})
		}
		return rows, nil
	}
	return nil, fmt.Errorf("reply of type %T is no hash", v)
}

var _ engine.Authorizer = (*Plugin)(nil)
