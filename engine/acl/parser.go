package acl

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// maxWhoDepth bounds the nesting of 'and'/'or' clauses, so that a hostile or broken file
// cannot exhaust the stack of the parser or of Check.
const maxWhoDepth = 16

// parser is a recursive-descent parser for the acl.conf grammar:
//
//	file   = { rule } .
//	rule   = "{" perm "," ( "all" "}" | who "," access "," topics "}" ) "." .
//	perm   = "allow" | "deny" .
//	who    = "all" | "{" ( "user" | "username" | "client" | "clientid" ) "," ( string | "all" ) "}"
//	       | "{" "ipaddr" "," string "}" | "{" "ipaddrs" "," "[" [ string { "," string } ] "]" "}"
//	       | "{" ( "'and'" | "'or'" ) "," "[" [ who { "," who } ] "]" "}" .
//	access = "subscribe" | "publish" | "pubsub" | "all" .
//	topics = "[" [ topic { "," topic } ] "]" | binary .
//	topic  = string | "{" "eq" "," string "}" .
//	string = ( `"…"` | "<<" `"…"` ">>" ) { `"…"` } .
//
// It compiles while it parses, so every semantic error (a bad CIDR, a bad topic filter)
// points at the offending token.
type parser struct {
	lx   *lexer
	tok  token // current token
	name string
}

func newParser(name string, data []byte) (*parser, error) {
	p := &parser{lx: newLexer(name, data), name: name}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorAt(t token, format string, args ...any) *ParseError {
	return newParseError(p.name, t.line, t.col, format, args...)
}

// expect consumes a token of kind k or fails with "expected <what>, found …".
func (p *parser) expect(k tokenKind, what string) error {
	if p.tok.kind != k {
		return p.errorAt(p.tok, "expected %s, found %s", what, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) parseFile() ([]rule, error) {
	var rules []rule
	for p.tok.kind != tokEOF {
		r, err := p.parseRule()
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (p *parser) parseRule() (rule, error) {
	var r rule
	r.line = p.tok.line
	if err := p.expect(tokLBrace, "'{' to start a rule"); err != nil {
		return r, err
	}
	perm := p.tok
	if perm.kind != tokAtom {
		return r, p.errorAt(perm, "expected 'allow' or 'deny', found %s", perm.describe())
	}
	switch perm.text {
	case "allow":
		r.permission = Allow
	case "deny":
		r.permission = Deny
	default:
		return r, p.errorAt(perm, "unknown permission %s, expected 'allow' or 'deny'", perm.describe())
	}
	if err := p.advance(); err != nil {
		return r, err
	}
	if err := p.expect(tokComma, "',' after 'allow' or 'deny'"); err != nil {
		return r, err
	}
	w, err := p.parseWho(0)
	if err != nil {
		return r, err
	}
	r.who = w
	switch p.tok.kind {
	case tokRBrace:
		if w.kind != whoAll {
			return r, p.errorAt(p.tok, "expected ',' after who-clause %s: only {allow, all} and {deny, all} have no access and topics", w.text())
		}
		r.all = true
		r.access = PubSub
		if err := p.advance(); err != nil {
			return r, err
		}
		return r, p.endRule()
	case tokComma:
		if err := p.advance(); err != nil {
			return r, err
		}
	default:
		return r, p.errorAt(p.tok, "expected ',' or '}' after who-clause, found %s", p.tok.describe())
	}

	acc := p.tok
	if acc.kind != tokAtom {
		return r, p.errorAt(acc, "expected access (subscribe, publish or pubsub), found %s", acc.describe())
	}
	switch acc.text {
	case "subscribe":
		r.access = Subscribe
	case "publish":
		r.access = Publish
	case "pubsub", "all":
		r.access = PubSub
	default:
		return r, p.errorAt(acc, "unknown access %s, expected subscribe, publish or pubsub", acc.describe())
	}
	if err := p.advance(); err != nil {
		return r, err
	}
	if err := p.expect(tokComma, "',' after access"); err != nil {
		return r, err
	}
	if err := p.parseTopics(&r); err != nil {
		return r, err
	}
	if err := p.expect(tokRBrace, "'}' after topics"); err != nil {
		return r, err
	}
	return r, p.endRule()
}

func (p *parser) endRule() error {
	return p.expect(tokDot, "'.' after rule")
}

// parseString parses a string: "…" (adjacent strings concatenate, as in Erlang) or a binary
// <<"…">>. It returns the value and the token where it starts.
func (p *parser) parseString(what string) (string, token, error) {
	start := p.tok
	switch p.tok.kind {
	case tokString:
		var sb strings.Builder
		for p.tok.kind == tokString {
			sb.WriteString(p.tok.text)
			if err := p.advance(); err != nil {
				return "", start, err
			}
		}
		return sb.String(), start, nil
	case tokBinOpen:
		if err := p.advance(); err != nil {
			return "", start, err
		}
		if p.tok.kind != tokString {
			return "", start, p.errorAt(p.tok, "expected a string inside <<…>>, found %s", p.tok.describe())
		}
		s := p.tok.text
		if err := p.advance(); err != nil {
			return "", start, err
		}
		if err := p.expect(tokBinClose, "'>>' to close the binary"); err != nil {
			return "", start, err
		}
		return s, start, nil
	}
	return "", start, p.errorAt(p.tok, "expected %s, found %s", what, p.tok.describe())
}

// parseWho parses a who-clause; depth counts the enclosing 'and'/'or' clauses.
func (p *parser) parseWho(depth int) (who, error) {
	var w who
	t := p.tok
	switch t.kind {
	case tokAtom:
		if t.text != "all" {
			return w, p.errorAt(t, "unknown who-clause %s, expected all or {user|username|client|clientid|ipaddr|ipaddrs|'and'|'or', …}", t.describe())
		}
		w.kind = whoAll
		return w, p.advance()
	case tokLBrace:
	default:
		return w, p.errorAt(t, "expected who-clause (all or {user, \"name\"}, {client, \"id\"}, {ipaddr, \"cidr\"}, …), found %s", t.describe())
	}
	if err := p.advance(); err != nil {
		return w, err
	}
	kt := p.tok
	if kt.kind != tokAtom {
		return w, p.errorAt(kt, "expected who-clause kind (user, username, client, clientid, ipaddr, ipaddrs, 'and', 'or'), found %s", kt.describe())
	}
	w.keyword = kt.text
	switch kt.text {
	case "user", "username":
		w.kind = whoUser
	case "client", "clientid":
		w.kind = whoClient
	case "ipaddr":
		w.kind = whoAddr
	case "ipaddrs":
		w.kind = whoAddrs
	case "and":
		w.kind = whoAnd
	case "or":
		w.kind = whoOr
	default:
		return w, p.errorAt(kt, "unknown who-clause %s, expected user, username, client, clientid, ipaddr, ipaddrs, 'and' or 'or'", kt.describe())
	}
	if err := p.advance(); err != nil {
		return w, err
	}
	if err := p.expect(tokComma, "',' after "+quoteAtom(kt.text)); err != nil {
		return w, err
	}
	switch w.kind {
	case whoUser, whoClient:
		if p.tok.kind == tokAtom && p.tok.text == "all" {
			w.any = true
			if err := p.advance(); err != nil {
				return w, err
			}
			break
		}
		what := "a username string"
		if w.kind == whoClient {
			what = "a client id string"
		}
		s, st, err := p.parseString(what + " or all")
		if err != nil {
			return w, err
		}
		if s == "" {
			return w, p.errorAt(st, "empty %s: it would never match", strings.TrimPrefix(what, "a "))
		}
		w.value = s
	case whoAddr:
		s, st, err := p.parseString("an IP address or CIDR string")
		if err != nil {
			return w, err
		}
		if err := w.addPrefix(s); err != nil {
			return w, p.errorAt(st, "%v", err)
		}
	case whoAddrs:
		if err := p.expect(tokLBracket, "'[' to start the list of addresses"); err != nil {
			return w, err
		}
		for p.tok.kind != tokRBracket {
			s, st, err := p.parseString("an IP address or CIDR string")
			if err != nil {
				return w, err
			}
			if err := w.addPrefix(s); err != nil {
				return w, p.errorAt(st, "%v", err)
			}
			if err := p.listSep("address"); err != nil {
				return w, err
			}
		}
		if err := p.advance(); err != nil {
			return w, err
		}
	case whoAnd, whoOr:
		if depth >= maxWhoDepth {
			return w, p.errorAt(kt, "'and'/'or' nested deeper than %d", maxWhoDepth)
		}
		if err := p.expect(tokLBracket, "'[' to start the list of who-clauses"); err != nil {
			return w, err
		}
		for p.tok.kind != tokRBracket {
			sub, err := p.parseWho(depth + 1)
			if err != nil {
				return w, err
			}
			w.list = append(w.list, sub)
			if err := p.listSep("who-clause"); err != nil {
				return w, err
			}
		}
		if err := p.advance(); err != nil {
			return w, err
		}
	}
	return w, p.expect(tokRBrace, "'}' to close the who-clause")
}

// listSep consumes the ',' between list elements, or stops before the closing ']'.
func (p *parser) listSep(element string) error {
	switch p.tok.kind {
	case tokComma:
		if err := p.advance(); err != nil {
			return err
		}
		if p.tok.kind == tokRBracket {
			return p.errorAt(p.tok, "expected %s after ',', found ']'", element)
		}
		return nil
	case tokRBracket:
		return nil
	}
	return p.errorAt(p.tok, "expected ',' or ']' after %s, found %s", element, p.tok.describe())
}

// addPrefix parses an address ("127.0.0.1", "::1") or a CIDR ("192.168.0.0/24"). Host bits
// set in a CIDR are cleared ("10.1.2.3/8" is 10.0.0.0/8), as EMQX does. An IPv4-mapped IPv6
// prefix becomes the IPv4 prefix it stands for.
func (w *who) addPrefix(s string) error {
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return errInvalidAddr(s)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return errInvalidAddr(s)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	w.addrs = append(w.addrs, s)
	w.prefixes = append(w.prefixes, pfx)
	return nil
}

type addrError string

func (e addrError) Error() string {
	return "invalid IP address or CIDR " + quoteString(string(e)) + ", expected e.g. \"127.0.0.1\", \"192.168.0.0/24\" or \"fd00::/8\""
}

func errInvalidAddr(s string) error { return addrError(s) }

// parseTopics parses the rule's topic list, or a single binary <<"t">> (EMQX 3.x/4.x accept
// a binary in place of the list; a plain "t" is a character list to Erlang and EMQX fails to
// load it, so it is an error here too, with a hint).
func (p *parser) parseTopics(r *rule) error {
	switch p.tok.kind {
	case tokBinOpen:
		s, st, err := p.parseString("a topic")
		if err != nil {
			return err
		}
		f, err := compileFilter(s, false)
		if err != nil {
			return p.errorAt(st, "%v", err)
		}
		r.filters = append(r.filters, f)
		r.topicsBare = true
		return nil
	case tokString:
		return p.errorAt(p.tok, "expected '[' to start the list of topics, found %s (write [%s])", p.tok.describe(), p.tok.describe())
	case tokLBracket:
	default:
		return p.errorAt(p.tok, "expected '[' to start the list of topics, found %s", p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return err
	}
	for p.tok.kind != tokRBracket {
		f, err := p.parseTopic()
		if err != nil {
			return err
		}
		r.filters = append(r.filters, f)
		if err := p.listSep("topic"); err != nil {
			return err
		}
	}
	return p.advance()
}

func (p *parser) parseTopic() (filter, error) {
	eq := false
	if p.tok.kind == tokLBrace {
		if err := p.advance(); err != nil {
			return filter{}, err
		}
		if p.tok.kind != tokAtom || p.tok.text != "eq" {
			if p.tok.kind == tokAtom {
				return filter{}, p.errorAt(p.tok, "unknown topic form %s, expected {eq, \"topic\"}", p.tok.describe())
			}
			return filter{}, p.errorAt(p.tok, "expected 'eq' in {eq, \"topic\"}, found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return filter{}, err
		}
		if err := p.expect(tokComma, "',' after 'eq'"); err != nil {
			return filter{}, err
		}
		eq = true
	} else if p.tok.kind != tokString && p.tok.kind != tokBinOpen {
		return filter{}, p.errorAt(p.tok, "expected a topic string or {eq, \"topic\"}, found %s", p.tok.describe())
	}
	s, st, err := p.parseString("a topic string")
	if err != nil {
		return filter{}, err
	}
	f, err := compileFilter(s, eq)
	if err != nil {
		return filter{}, p.errorAt(st, "%v", err)
	}
	if eq {
		if err := p.expect(tokRBrace, "'}' to close {eq, …}"); err != nil {
			return filter{}, err
		}
	}
	return f, nil
}

type filterError struct {
	topic string
	msg   string
}

func (e *filterError) Error() string {
	return "invalid topic " + quoteString(e.topic) + ": " + e.msg
}

// compileFilter validates a topic filter and splits it into levels. A level that is exactly
// %u or %c is a placeholder; {eq, T} topics are kept whole and never substituted.
func compileFilter(s string, eq bool) (filter, error) {
	f := filter{eq: eq, text: s}
	if s == "" {
		return f, &filterError{s, "empty topic"}
	}
	if !utf8.ValidString(s) {
		return f, &filterError{s, "not valid UTF-8"}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return f, &filterError{s, "contains U+0000"}
	}
	if eq {
		return f, nil
	}
	n := strings.Count(s, "/") + 1
	f.levels = make([]level, 0, n)
	rest := s
	for i := 0; i < n; i++ {
		word := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			word, rest = rest[:j], rest[j+1:]
		}
		var lv level
		switch word {
		case "#":
			if i != n-1 {
				return f, &filterError{s, "'#' must be the last level"}
			}
			lv.kind = levelHash
		case "+":
			lv.kind = levelPlus
		case "%u":
			lv.kind = levelUsername
		case "%c":
			lv.kind = levelClientID
		default:
			if strings.ContainsAny(word, "+#") {
				return f, &filterError{s, "'+' and '#' must fill a whole level"}
			}
			lv.kind = levelLiteral
			lv.text = word
		}
		f.levels = append(f.levels, lv)
	}
	return f, nil
}
