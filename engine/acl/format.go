package acl

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// text renders the rule in canonical acl.conf form, ending with '.'.
func (r *rule) text() string {
	var sb strings.Builder
	sb.WriteByte('{')
	sb.WriteString(r.permission.String())
	sb.WriteString(", ")
	if r.all {
		sb.WriteString("all}.")
		return sb.String()
	}
	r.who.write(&sb)
	sb.WriteString(", ")
	sb.WriteString(r.access.String())
	sb.WriteString(", ")
	if r.topicsBare {
		sb.WriteString("<<")
		sb.WriteString(quoteString(r.filters[0].text))
		sb.WriteString(">>")
	} else {
		sb.WriteByte('[')
		for i := range r.filters {
			if i > 0 {
				sb.WriteString(", ")
			}
			f := &r.filters[i]
			if f.eq {
				sb.WriteString("{eq, ")
				sb.WriteString(quoteString(f.text))
				sb.WriteByte('}')
			} else {
				sb.WriteString(quoteString(f.text))
			}
		}
		sb.WriteByte(']')
	}
	sb.WriteString("}.")
	return sb.String()
}

// text renders the who-clause in acl.conf form.
func (w *who) text() string {
	var sb strings.Builder
	w.write(&sb)
	return sb.String()
}

func (w *who) write(sb *strings.Builder) {
	if w.kind == whoAll {
		sb.WriteString("all")
		return
	}
	sb.WriteByte('{')
	sb.WriteString(quoteAtom(w.keyword))
	sb.WriteString(", ")
	switch w.kind {
	case whoUser, whoClient:
		if w.any {
			sb.WriteString("all")
		} else {
			sb.WriteString(quoteString(w.value))
		}
	case whoAddr:
		sb.WriteString(quoteString(w.addrs[0]))
	case whoAddrs:
		sb.WriteByte('[')
		for i, a := range w.addrs {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(quoteString(a))
		}
		sb.WriteByte(']')
	case whoAnd, whoOr:
		sb.WriteByte('[')
		for i := range w.list {
			if i > 0 {
				sb.WriteString(", ")
			}
			w.list[i].write(sb)
		}
		sb.WriteByte(']')
	}
	sb.WriteByte('}')
}

// quoteString renders s as an Erlang string literal.
func quoteString(s string) string {
	return quoteErlang(s, '"')
}

// quoteAtom renders an atom: bare when Erlang allows it, otherwise in single quotes
// ('and' and 'or' are reserved words and always quoted).
func quoteAtom(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' && !reservedWord(s) {
		bare := true
		for i := 0; i < len(s); i++ {
			b := s[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '@') {
				bare = false
				break
			}
		}
		if bare {
			return s
		}
	}
	return quoteErlang(s, '\'')
}

func reservedWord(s string) bool {
	switch s {
	case "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
		"catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
		"rem", "try", "when", "xor", "maybe", "else":
		return true
	}
	return false
}

func quoteErlang(s string, quote byte) string {
	var sb strings.Builder
	sb.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			sb.WriteString(`\x{`)
			sb.WriteString(strconv.FormatInt(int64(r), 16))
			sb.WriteByte('}')
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte(quote)
	return sb.String()
}
