package acl

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/emqgo/emqgo/etc"
)

// Result is the decision of a rule set for one request.
type Result uint8

const (
	// NoMatch: no rule matched; the caller applies acl_nomatch (or asks the next ACL source).
	NoMatch Result = iota
	// Allow: the first matching rule is an allow rule.
	Allow
	// Deny: the first matching rule is a deny rule.
	Deny
)

// String returns "nomatch", "allow" or "deny".
func (r Result) String() string {
	switch r {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case NoMatch:
		return "nomatch"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// Access is the kind of request checked: Publish or Subscribe. PubSub is the union, used in
// rules only.
type Access uint8

const (
	// Publish is a PUBLISH to a topic name.
	Publish Access = 1 << iota
	// Subscribe is a SUBSCRIBE to a topic filter.
	Subscribe
	// PubSub is a rule's "pubsub" access: both Publish and Subscribe. Never pass it to Check.
	PubSub = Publish | Subscribe
)

// String returns the acl.conf atom: "publish", "subscribe" or "pubsub".
func (a Access) String() string {
	switch a {
	case Publish:
		return "publish"
	case Subscribe:
		return "subscribe"
	case PubSub:
		return "pubsub"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// Client is who makes the request. The engine keeps one per connection, filled once at
// CONNECT (the strings are copies out of the read buffer, so they stay valid for the
// connection's life) and never changed afterwards; Check only reads it, so one Client may be
// passed to concurrent Checks.
type Client struct {
	// Username from CONNECT; "" means the client sent none (an empty username counts as
	// none: it matches no {user, …} clause and no %u placeholder).
	Username string
	// ClientID, possibly assigned by the broker; "" matches no {client, …} clause and no %c.
	ClientID string
	// Addr is the peer's IP address; the zero Addr (unknown, e.g. a Unix socket) matches no
	// {ipaddr, …} clause. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 rules, and
	// an IPv6 zone is ignored.
	Addr netip.Addr
}

// Rule describes one compiled rule for listings (emqx_ctl, the HTTP API). It is a copy: the
// caller owns it.
type Rule struct {
	// Line is the line of the source file where the rule starts.
	Line int
	// Permission is Allow or Deny.
	Permission Result
	// Text is the rule in canonical acl.conf form, e.g.
	// {allow, {user, "dashboard"}, subscribe, ["$SYS/#"]}.
	// It parses back into the same rule.
	Text string
}

// Rules is a compiled acl.conf: an ordered list of rules where the first matching rule decides.
//
// A *Rules is immutable once Parse or Load returns it, so any number of goroutines (every
// event loop) may call Check, Len, Rules and String on it at the same time without locks. It
// holds no reference to the source bytes. Reloading (emqx_ctl acl reload) is the engine's
// business: parse the new file into a new *Rules and publish it with an atomic.Pointer swap;
// Checks running on the old set finish on it, and the garbage collector frees it afterwards.
// A nil *Rules is an empty rule set: Check returns NoMatch.
type Rules struct {
	name  string
	rules []rule
	// The index (nil maps for small sets): rule numbers in file order.
	byUser   map[string][]int32 // rules whose Who needs this username
	byClient map[string][]int32 // rules whose Who needs this client id
	rest     []int32            // all other rules
}

// rule is one compiled rule.
type rule struct {
	line       int
	permission Result // Allow or Deny
	access     Access // Publish, Subscribe or PubSub
	all        bool   // {allow, all} / {deny, all}: matches every request
	who        who
	filters    []filter
	// topicsBare records that the topics were one bare binary (<<"t">>), not a list, so the
	// canonical text keeps that form.
	topicsBare bool
}

// Parse compiles the acl.conf text data. name is used in error messages only (usually the
// file's path). The returned *Rules does not retain data. A syntax or semantic error is a
// *ParseError naming line and column.
func Parse(name string, data []byte) (*Rules, error) {
	p, err := newParser(name, data)
	if err != nil {
		return nil, err
	}
	rules, err := p.parseFile()
	if err != nil {
		return nil, err
	}
	r := &Rules{name: name, rules: rules}
	r.buildIndex()
	return r, nil
}

// Load reads and compiles the acl.conf file at path. Errors name the path.
func Load(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load acl file %q: %w", path, err)
	}
	return Parse(path, data)
}

// Default returns the compiled default etc/acl.conf embedded in the binary (the four rules
// of the EMQX user guide). Each call compiles a new *Rules.
func Default() *Rules {
	r, err := Parse("etc/acl.conf", []byte(etc.ACLConf))
	if err != nil {
		panic(fmt.Sprintf("BUG: the embedded etc/acl.conf does not parse: %v", err))
	}
	return r
}

// Name returns the name given to Parse (the path for Load).
func (r *Rules) Name() string {
	if r == nil {
		return ""
	}
	return r.name
}

// Len returns the number of rules.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.rules)
}

// Rules returns a description of every rule in order. The slice is new on each call and
// owned by the caller.
func (r *Rules) Rules() []Rule {
	if r == nil {
		return nil
	}
	out := make([]Rule, len(r.rules))
	for i := range r.rules {
		ru := &r.rules[i]
		out[i] = Rule{Line: ru.line, Permission: ru.permission, Text: ru.text()}
	}
	return out
}

// String returns the rules in canonical acl.conf form, one per line, each ending with a
// newline. Parse accepts the result and yields the same rules.
func (r *Rules) String() string {
	if r == nil {
		return ""
	}
	var sb strings.Builder
	for i := range r.rules {
		sb.WriteString(r.rules[i].text())
		sb.WriteByte('\n')
	}
	return sb.String()
}

// ParseError is a syntax or semantic error in an acl.conf file. Error() reads
// "name:line:column: message", e.g.
//
//	acl.conf:7:23: expected ',' or '}' after who-clause, found 'publish'
type ParseError struct {
	Name   string // as passed to Parse
	Line   int    // 1-based
	Column int    // 1-based, counting characters; a tab is one column
	Msg    string // what was expected and what was found
}

func newParseError(name string, line, col int, format string, args ...any) *ParseError {
	return &ParseError{Name: name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Column, e.Msg)
}
