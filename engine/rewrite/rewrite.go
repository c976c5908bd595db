package rewrite

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/emqgo/emqgo/codec"
)

// Rule is one rewrite rule as configured.
type Rule struct {
	Filter string // topic filter the topic must match for the rule to apply
	Regexp string // regular expression (RE2 syntax) matched against the whole topic
	Dest   string // destination; $1 … $9 stand for the expression's groups
}

// String returns the rule in its configuration form.
func (r Rule) String() string { return r.Filter + " " + r.Regexp + " " + r.Dest }

// Rules is an ordered, compiled list of rules. It is immutable and safe for concurrent use by
// any number of goroutines. A nil *Rules has no rules and rewrites nothing.
type Rules struct {
	list []compiled
}

type compiled struct {
	filter []string // the rule filter's levels
	re     *regexp.Regexp
	dest   []part
}

// part is a piece of a destination: literal text, or capture group group (1-9) when group > 0.
type part struct {
	text  string
	group int
}

// Parse splits a configuration value "filter regexp destination" (separated by blanks) into a
// Rule and checks it as Compile does.
func Parse(v string) (Rule, error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return Rule{}, fmt.Errorf("%q is not a rewrite rule (expected \"topic-filter regexp destination\", e.g. x/# ^x/y/(.+)$ z/y/$1)", v)
	}
	r := Rule{Filter: f[0], Regexp: f[1], Dest: f[2]}
	if _, err := compile(r); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// Compile checks and compiles rules, keeping their order. It returns nil (no rules) for an
// empty list. An error names the rule and what is wrong with it: a filter that is not a valid
// MQTT topic filter, a regular expression that does not compile, or an empty destination.
func Compile(rules []Rule) (*Rules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	rs := &Rules{list: make([]compiled, 0, len(rules))}
	for _, r := range rules {
		c, err := compile(r)
		if err != nil {
			return nil, err
		}
		rs.list = append(rs.list, c)
	}
	return rs, nil
}

func compile(r Rule) (compiled, error) {
	if err := codec.ValidTopicFilter([]byte(r.Filter)); err != nil || strings.HasPrefix(r.Filter, codec.SharePrefix) || strings.HasPrefix(r.Filter, "$queue/") {
		why := "a shared subscription"
		if err != nil {
			why = strings.TrimPrefix(err.Error(), "codec: ")
		}
		return compiled{}, fmt.Errorf("rewrite rule %q: filter %q is not a topic filter: %s", r.String(), r.Filter, why)
	}
	re, err := regexp.Compile(r.Regexp)
	if err != nil {
		return compiled{}, fmt.Errorf("rewrite rule %q: invalid regular expression: %v", r.String(), err)
	}
	if r.Dest == "" {
		return compiled{}, fmt.Errorf("rewrite rule %q: empty destination", r.String())
	}
	return compiled{filter: strings.Split(r.Filter, "/"), re: re, dest: parseDest(r.Dest, re.NumSubexp())}, nil
}

// parseDest splits a destination into literal text and group references; "$N" with N above
// groups stays literal.
func parseDest(d string, groups int) []part {
	var parts []part
	lit := 0
	for i := 0; i+1 < len(d); i++ {
		if d[i] != '$' || d[i+1] < '1' || d[i+1] > '9' || int(d[i+1]-'0') > groups {
			continue
		}
		if lit < i {
			parts = append(parts, part{text: d[lit:i]})
		}
		parts = append(parts, part{group: int(d[i+1] - '0')})
		i++
		lit = i + 1
	}
	if lit < len(d) {
		parts = append(parts, part{text: d[lit:]})
	}
	return parts
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.list)
}

// Apply rewrites topic by the first rule whose filter matches it. When that rule's expression
// matches, the destination is appended to dst and returned with changed true; otherwise (no
// rule's filter matches, or the first matching rule's expression does not) topic itself is
// returned with changed false. topic is only read and never retained; the result is not
// checked to be a valid topic name or filter, which is the caller's business. Apply does not
// allocate unless some rule's filter matches topic.
func (rs *Rules) Apply(dst, topic []byte) (out []byte, changed bool) {
	if rs == nil {
		return topic, false
	}
	for i := range rs.list {
		r := &rs.list[i]
		if !matchFilter(r.filter, topic) {
			continue
		}
		m := r.re.FindSubmatchIndex(topic)
		if m == nil {
			return topic, false
		}
		for _, p := range r.dest {
			if p.group == 0 {
				dst = append(dst, p.text...)
			} else if s := m[2*p.group]; s >= 0 {
				dst = append(dst, topic[s:m[2*p.group+1]]...)
			}
		}
		return dst, true
	}
	return topic, false
}

// matchFilter reports whether topic matches the filter levels: '+' matches one level, '#' the
// rest (the parent level too), and a topic starting with '$' is not matched by a leading
// wildcard [MQTT-4.7.2-1]. Wildcards in topic are ordinary characters.
func matchFilter(filter []string, topic []byte) bool {
	if len(topic) > 0 && topic[0] == '$' && (filter[0] == "+" || filter[0] == "#") {
		return false
	}
	pos := 0 // start of the next topic level; len(topic)+1 once the last level is consumed
	for _, f := range filter {
		if f == "#" {
			return true
		}
		if pos > len(topic) {
			return false // the topic has fewer levels than the filter
		}
		end := bytes.IndexByte(topic[pos:], '/')
		if end < 0 {
			end = len(topic)
		} else {
			end += pos
		}
		if f != "+" && f != string(topic[pos:end]) {
			return false
		}
		pos = end + 1
	}
	return pos > len(topic) // every topic level was matched
}
