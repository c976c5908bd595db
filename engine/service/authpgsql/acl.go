package authpgsql

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// Authorize implements engine.Authorizer with EMQX's mqtt_acl semantics: acl_query returns
// rows of (allow, ipaddr, username, clientid, access, topic) where allow is 1 or 0, access 1
// subscribe, 2 publish or 3 both, a username of "$all" names every client, otherwise the
// non-empty ones of ipaddr (an address or CIDR), username and clientid must all match, and a
// topic "eq T" is the literal topic T. No rows is ignored; otherwise the first row in the
// query's order that matches the request decides (allow or deny), and when none matches the
// request is ignored too: the rest of the chain, acl.conf and acl_nomatch decide. Rows match
// as acl.conf rules do (%u and %c levels substituted; allow rules strictly). A row that is not
// of this form, a server that does not answer, or an SQL error denies the request.
func (p *Plugin) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	q := p.cfg.ACLQuery
	if q.IsZero() {
		return engine.AuthIgnore
	}
	rows, err := p.query(ctx, q, q.Args(ci))
	if err != nil {
		p.log.Debug("access denied: acl_query failed", "client", ci.ClientID, "err", err.Error())
		return engine.AuthDeny
	}
	if len(rows) == 0 {
		return engine.AuthIgnore
	}
	rules, err := compileRows(rows)
	if err != nil {
		p.log.Warn("access denied: acl_query "+q.String()+" returned a row that is no ACL rule", "client", ci.ClientID, "err", err.Error())
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

// compileRows turns mqtt_acl rows into acl.conf rules, in order, and compiles them; each
// value is written as an escaped string, so a row cannot add rules or clauses.
func compileRows(rows [][]any) (*acl.Rules, error) {
	var sb strings.Builder
	for i, r := range rows {
		if err := writeRule(&sb, r); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	return acl.Parse("acl_query", []byte(sb.String()))
}

func writeRule(sb *strings.Builder, r []any) error {
	if len(r) != 6 {
		return fmt.Errorf("%d columns, want 6 (allow, ipaddr, username, clientid, access, topic)", len(r))
	}
	permission := ""
	switch n, ok := allowFlag(r[0]); {
	case ok && n == 1:
		permission = "allow"
	case ok && n == 0:
		permission = "deny"
	default:
		return fmt.Errorf("allow is %v, want 1 or 0", r[0])
	}
	var access string
	switch n, _ := integer(r[4]); n {
	case 1:
		access = "subscribe"
	case 2:
		access = "publish"
	case 3:
		access = "pubsub"
	default:
		return fmt.Errorf("access is %v, want 1, 2 or 3", r[4])
	}
	topic, ok := text(r[5])
	if !ok || topic == "" {
		return fmt.Errorf("topic is %v, want a topic filter", r[5])
	}
	ip, err := address(r[1])
	if err != nil {
		return err
	}
	user, _ := text(r[2])
	client, _ := text(r[3])
	var who []string
	switch {
	case user == "$all":
		who = []string{"all"}
	default:
		if ip != "" {
			who = append(who, "{ipaddr, "+quote(ip)+"}")
		}
		if user != "" {
			who = append(who, "{user, "+quote(user)+"}")
		}
		if client != "" {
			who = append(who, "{client, "+quote(client)+"}")
		}
	}
	var whoText string
	switch len(who) {
	case 0:
		return fmt.Errorf("ipaddr, username and clientid are all empty: the row names no one")
	case 1:
		whoText = who[0]
	default:
		whoText = "{'and', [" + strings.Join(who, ", ") + "]}"
	}
	topicText := quote(topic)
	if t, ok := strings.CutPrefix(topic, "eq "); ok {
		topicText = "{eq, " + quote(t) + "}"
	}
	fmt.Fprintf(sb, "{%s, %s, %s, [%s]}.\n", permission, whoText, access, topicText)
	return nil
}

// allowFlag reads allow: an integer, a text holding one, or a boolean.
func allowFlag(v any) (int64, bool) {
	if b, ok := v.(bool); ok {
		if b {
			return 1, true
		}
		return 0, true
	}
	return integer(v)
}

// address reads ipaddr: text, or an inet/cidr column.
func address(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case netip.Prefix:
		if x.IsSingleIP() {
			return x.Addr().String(), nil
		}
		return x.String(), nil
	case netip.Addr:
		return x.String(), nil
	}
	if s, ok := text(v); ok {
		return strings.TrimSpace(s), nil
	}
	return "", fmt.Errorf("ipaddr of type %T is no address", v)
}

// quote writes s as an Erlang string of acl.conf: quotes and backslashes escaped, control
// characters as \x{..}.
func quote(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&sb, `\x{%x}`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

var _ engine.Authorizer = (*Plugin)(nil)
