package acl

import (
	"bytes"
	"net/netip"
)

type whoKind uint8

const (
	whoAll    whoKind = iota // all
	whoUser                  // {user, "name"} / {username, "name"} / {user, all}
	whoClient                // {client, "id"} / {clientid, "id"} / {client, all}
	whoAddr                  // {ipaddr, "cidr"}
	whoAddrs                 // {ipaddrs, ["cidr", …]}
	whoAnd                   // {'and', [who, …]}: every clause matches (true when empty)
	whoOr                    // {'or', [who, …]}: some clause matches (false when empty)
)

// who is a compiled who-clause.
type who struct {
	kind     whoKind
	keyword  string   // as written: user, username, client, clientid, ipaddr, …
	value    string   // username or client id
	any      bool     // {user, all} / {client, all}: matches every client (EMQX 3.x/4.x form)
	addrs    []string // address strings as written, for the canonical text
	prefixes []netip.Prefix
	list     []who
}

// match reports whether the clause matches client c, whose address normalized by peerAddr
// is addr.
func (w *who) match(c *Client, addr netip.Addr) bool {
	switch w.kind {
	case whoAll:
		return true
	case whoUser:
		return w.any || c.Username != "" && c.Username == w.value
	case whoClient:
		return w.any || c.ClientID != "" && c.ClientID == w.value
	case whoAddr, whoAddrs:
		if !addr.IsValid() {
			return false
		}
		for _, p := range w.prefixes {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	case whoAnd:
		for i := range w.list {
			if !w.list[i].match(c, addr) {
				return false
			}
		}
		return true
	case whoOr:
		for i := range w.list {
			if w.list[i].match(c, addr) {
				return true
			}
		}
		return false
	}
	panic("BUG: unknown who-clause kind")
}

type levelKind uint8

const (
	levelLiteral  levelKind = iota // a word compared byte for byte
	levelPlus                      // +
	levelHash                      // # (always the last level)
	levelUsername                  // %u
	levelClientID                  // %c
)

type level struct {
	kind levelKind
	text string // the word, for levelLiteral
}

// filter is one compiled topic of a rule.
type filter struct {
	eq     bool   // {eq, T}: the request's topic must equal text byte for byte
	text   string // the topic as written
	levels []level
}

// Check decides whether client c may publish to the topic name topic (access Publish) or
// subscribe to the topic filter topic (access Subscribe). Rules are tried in order and the
// first rule that matches decides (Allow or Deny); NoMatch when none does. For a shared
// subscription pass the real filter, without "$share/<group>/" or "$queue/", as EMQX does.
//
// Check allocates nothing, takes no lock and retains neither c nor topic, so topic may alias
// the connection's read buffer. It is safe for concurrent use. c must not be nil; access must
// be Publish or Subscribe (anything else is a bug in the caller and panics). See the package
// documentation for how topics match.
//
// Cost: a scan of the rules in order. In sets of 16 rules or more, rules whose Who names one
// exact username or client id (also inside 'and') are indexed, so a client only tries its own
// rules and the rules that name no one; decisions are the same as a full scan.
func (r *Rules) Check(c *Client, access Access, topic []byte) Result {
	if access != Publish && access != Subscribe {
		panic("BUG: acl.Check needs access Publish or Subscribe, got " + access.String())
	}
	if r == nil {
		return NoMatch
	}
	sub := access == Subscribe
	addr := peerAddr(c.Addr)
	if r.byUser == nil && r.byClient == nil {
		for i := range r.rules {
			if res := r.rules[i].decide(c, addr, access, topic, sub); res != NoMatch {
				return res
			}
		}
		return NoMatch
	}
	// Only the rules that can match this client are tried, in file order: the merge of the
	// client's username list, its client id list and the rules not keyed by either.
	var users, clients []int32
	if c.Username != "" {
		users = r.byUser[c.Username]
	}
	if c.ClientID != "" {
		clients = r.byClient[c.ClientID]
	}
	rest := r.rest
	for {
		next := int32(len(r.rules))
		if len(users) > 0 {
			next = users[0]
		}
		if len(clients) > 0 && clients[0] < next {
			next = clients[0]
		}
		if len(rest) > 0 && rest[0] < next {
			next = rest[0]
		}
		if int(next) == len(r.rules) {
			return NoMatch
		}
		switch {
		case len(users) > 0 && users[0] == next:
			users = users[1:]
		case len(clients) > 0 && clients[0] == next:
			clients = clients[1:]
		default:
			rest = rest[1:]
		}
		if res := r.rules[next].decide(c, addr, access, topic, sub); res != NoMatch {
			return res
		}
	}
}

// decide returns the rule's permission if it matches the request, otherwise NoMatch.
func (ru *rule) decide(c *Client, addr netip.Addr, access Access, topic []byte, sub bool) Result {
	if ru.access&access == 0 {
		return NoMatch
	}
	if ru.all {
		return ru.permission
	}
	if !ru.who.match(c, addr) {
		return NoMatch
	}
	strict := ru.permission == Allow
	for j := range ru.filters {
		if ru.filters[j].match(c, topic, sub, strict) {
			return ru.permission
		}
	}
	return NoMatch
}

// indexMinRules is the size from which Parse indexes rules by username and client id; below
// it a plain scan is as fast.
const indexMinRules = 16

// buildIndex files every rule that can only match one username (or one client id) under
// that name, and every other rule in rest. A rule keyed by a username can match only a
// client with that username, so skipping it for other clients changes no decision.
func (r *Rules) buildIndex() {
	if len(r.rules) < indexMinRules {
		return
	}
	byUser := make(map[string][]int32)
	byClient := make(map[string][]int32)
	for i := range r.rules {
		ru := &r.rules[i]
		switch kind, key := ru.who.key(); {
		case ru.all || kind == whoAll:
			r.rest = append(r.rest, int32(i))
		case kind == whoUser:
			byUser[key] = append(byUser[key], int32(i))
		default:
			byClient[key] = append(byClient[key], int32(i))
		}
	}
	if len(byUser) == 0 && len(byClient) == 0 {
		r.rest = nil
		return
	}
	r.byUser, r.byClient = byUser, byClient
}

// key returns (whoUser, name) when the clause matches only clients with that username,
// (whoClient, id) when only clients with that client id, and (whoAll, "") otherwise.
func (w *who) key() (whoKind, string) {
	switch w.kind {
	case whoUser, whoClient:
		if !w.any {
			return w.kind, w.value
		}
	case whoAnd:
		for i := range w.list {
			if k, v := w.list[i].key(); k != whoAll {
				return k, v
			}
		}
	}
	return whoAll, ""
}

// match reports whether the rule topic f matches the request's topic. sub tells that topic
// is a subscription's filter (and may hold + and #); strict selects the MQTT matching used
// for allow rules, otherwise EMQX's looser word matching used for deny rules (see the package
// documentation).
func (f *filter) match(c *Client, topic []byte, sub, strict bool) bool {
	if f.eq {
		return string(topic) == f.text
	}
	rest := topic
	more := true // topic has a level not yet consumed
	for i := range f.levels {
		lv := &f.levels[i]
		if lv.kind == levelHash {
			// [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic starting with $.
			return !(strict && i == 0 && len(topic) > 0 && topic[0] == '$')
		}
		if !more {
			return false
		}
		var word []byte
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			word, rest = rest[:j], rest[j+1:]
		} else {
			word, rest, more = rest, nil, false
		}
		switch lv.kind {
		case levelLiteral:
			if string(word) != lv.text {
				return false
			}
		case levelPlus:
			if strict {
				if i == 0 && len(word) > 0 && word[0] == '$' {
					return false
				}
				if sub && len(word) == 1 && word[0] == '#' {
					return false
				}
			}
		case levelUsername:
			if !placeholderMatch(word, c.Username, sub) {
				return false
			}
		case levelClientID:
			if !placeholderMatch(word, c.ClientID, sub) {
				return false
			}
		}
	}
	return !more
}

// placeholderMatch compares one topic level with the client's value substituted for %u or
// %c. An empty value never matches. The substituted value is a literal: a username "+" does
// not act as a wildcard, and a subscription's own "+" or "#" level is not matched by it.
func placeholderMatch(word []byte, value string, sub bool) bool {
	if value == "" || string(word) != value {
		return false
	}
	return !(sub && (value == "+" || value == "#"))
}

// peerAddr normalizes a peer address for prefix matching: an IPv4-mapped IPv6 address
// becomes IPv4 and an IPv6 zone is dropped (netip.Prefix.Contains rejects zoned addresses).
func peerAddr(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return a
	}
	return a.Unmap().WithZone("")
}
