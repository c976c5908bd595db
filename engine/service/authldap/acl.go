package authldap

import (
	"context"

	"github.com/go-ldap/ldap/v3"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// Authorize implements engine.Authorizer with EMQX's semantics: the client's entry lists the
// topic filters it may publish to (mqttPublishTopic) or subscribe to (mqttSubscriptionTopic),
// and those it may do both with (mqttPubSubTopic). A filter that matches the request allows it
// (%u and %c levels substituted, as acl.conf's allow rules match). No entry, no filter for the
// request, none matching, or a client without a user name (or one starting with '$') is
// ignored: the rest of the chain, acl.conf and acl_nomatch decide. When the directory does not
// answer or refuses the search, the request is denied.
func (p *Plugin) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	if ci.Username == "" || ci.Username[0] == '$' {
		return engine.AuthIgnore
	}
	attr := attrPublish
	if access == acl.Subscribe {
		attr = attrSubscribe
	}
	var e *ldap.Entry
	err := p.do(ctx, func(c *ldap.Conn) error {
		var err error
		e, err = p.read(c, ci.Username, []string{attr, attrPubSub})
		return err
	})
	if err != nil {
		p.log.Debug("access denied: the directory search failed", "client", ci.ClientID, "err", err.Error())
		return engine.AuthDeny
	}
	if e == nil {
		return engine.AuthIgnore
	}
	c := acl.Client{Username: ci.Username, ClientID: ci.ClientID, Addr: ci.Peer.Addr()}
	for _, a := range []string{attr, attrPubSub} {
		for _, filter := range e.GetAttributeValues(a) {
			f, err := acl.CompileFilter(filter)
			if err != nil {
				continue // a value no request can match
			}
			if f.Allows(&c, access, []byte(topic)) {
				return engine.AuthAllow
			}
		}
	}
	return engine.AuthIgnore
}

var _ engine.Authorizer = (*Plugin)(nil)
