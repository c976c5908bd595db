package acl

import (
	"fmt"
	"strings"
)

// TableRow is one row of EMQX's mqtt_acl table, the ACL of the SQL auth plugins
// (emqx_auth_mysql, emqx_auth_pgsql), as the text of its columns; a NULL column is "".
//
//	allow     1: allow, 0: deny
//	ipaddr    the peer's address or a CIDR ("192.168.1.0/24")
//	username  the client's username; "$all": every client (ipaddr and clientid are then ignored)
//	clientid  the client's id
//	access    1: subscribe, 2: publish, 3: both
//	topic     a topic filter whose whole levels %u and %c are the client's username and id, or
//	          "eq T": the literal topic T (a subscription to "eq #" is one to "#" itself)
//
// The non-empty ones of ipaddr, username and clientid must all match the client (EMQX's
// {'and', …}); a row with none of them is an error, as EMQX refuses it.
type TableRow struct {
	Allow, IPAddr, Username, ClientID, Access, Topic string
}

// CompileTable compiles the rows an acl_query returned, in the order returned, into rules
// where the first matching row decides, as EMQX 3.x's SQL plugins do. A row that cannot be
// compiled fails the whole table, naming its 1-based position in name (say, the plugin): a
// row left out could be a deny row, and leaving it out would allow what it denies.
//
// The result is immutable and safe for concurrent use, like any *Rules; its Rule.Line is the
// row's position. Rows of allow 1 match strictly, rows of allow 0 as EMQX does (see the
// package documentation).
func CompileTable(name string, rows []TableRow) (*Rules, error) {
	r := &Rules{name: name, rules: make([]rule, 0, len(rows))}
	for i := range rows {
		ru, err := compileRow(&rows[i])
		if err != nil {
			return nil, fmt.Errorf("%s: row %d of mqtt_acl: %w", name, i+1, err)
		}
		ru.line = i + 1
		r.rules = append(r.rules, ru)
	}
	r.buildIndex()
	return r, nil
}

func compileRow(row *TableRow) (rule, error) {
	var ru rule
	switch strings.TrimSpace(row.Allow) {
	case "1":
		ru.permission = Allow
	case "0":
		ru.permission = Deny
	default:
		return ru, fmt.Errorf("allow is %s, expected 1 (allow) or 0 (deny)", quoteString(row.Allow))
	}
	switch strings.TrimSpace(row.Access) {
	case "1":
		ru.access = Subscribe
	case "2":
		ru.access = Publish
	case "3":
		ru.access = PubSub
	default:
		return ru, fmt.Errorf("access is %s, expected 1 (subscribe), 2 (publish) or 3 (both)", quoteString(row.Access))
	}
	var err error
	if ru.who, err = rowWho(row); err != nil {
		return ru, err
	}
	topic, eq := row.Topic, false
	if t, ok := strings.CutPrefix(topic, "eq "); ok {
		topic, eq = t, true
	}
	f, err := compileFilter(topic, eq)
	if err != nil {
		return ru, err
	}
	ru.filters = []filter{f}
	return ru, nil
}

// rowWho builds the who-clause of a row: all for username "$all", otherwise the non-empty
// columns, one clause or their conjunction.
func rowWho(row *TableRow) (who, error) {
	if row.Username == "$all" {
		return who{kind: whoAll}, nil
	}
	var conds []who
	if row.IPAddr != "" {
		w := who{kind: whoAddr, keyword: "ipaddr"}
		if err := w.addPrefix(row.IPAddr); err != nil {
			return w, err
		}
		conds = append(conds, w)
	}
	if row.Username != "" {
		conds = append(conds, who{kind: whoUser, keyword: "user", value: row.Username})
	}
	if row.ClientID != "" {
		conds = append(conds, who{kind: whoClient, keyword: "client", value: row.ClientID})
	}
	switch len(conds) {
	case 0:
		return who{}, fmt.Errorf("ipaddr, username and clientid are all empty: the row names no client (use username '$all' for every client)")
	case 1:
		return conds[0], nil
	}
	return who{kind: whoAnd, keyword: "and", list: conds}, nil
}
