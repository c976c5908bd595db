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

func (w *who) match(c *Client) bool {
	switch w.kind {
	case whoAll:
		return true
	case whoUser:
		return w.any || c.Username != "" && c.Username == w.value
	case whoClient:
		return w.any || c.ClientID != "" && c.ClientID == w.value
	case whoAddr, whoAddrs:
		if !c.Addr.IsValid() {
			return false
		}
		a := c.Addr.Unmap().WithZone("")
		for _, p := range w.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case whoAnd:
		for i := range w.list {
			if !w.list[i].match(c) {
				return false
			}
		}
		return true
	case whoOr:
		for i := range w.list {
			if w.list[i].match(c) {
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
func (r *Rules) Check(c *Client, access Access, topic []byte) Result {
	if access != Publish && access != Subscribe {
		panic("BUG: acl.Check needs access Publish or Subscribe, got " + access.String())
	}
	if r == nil {
		return NoMatch
	}
	sub := access == Subscribe
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.access&access == 0 {
			continue
		}
		if ru.all {
			return ru.permission
		}
		if !ru.who.match(c) {
			continue
		}
		strict := ru.permission == Allow
		for j := range ru.filters {
			if ru.filters[j].match(c, topic, sub, strict) {
				return ru.permission
			}
		}
	}
	return NoMatch
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
