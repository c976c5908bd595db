package authpgsql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// Query is an SQL query of the plugin's configuration (auth_query, super_query, acl_query)
// with its placeholders turned into bind parameters: '%u' (quoted, as EMQX writes it) or a
// bare %u outside any literal becomes $1, $2… and the client's value travels separately from
// the SQL text, so a user name such as "' or 1=1 --" is compared, never parsed. Immutable
// once parsed; safe for concurrent use.
type Query struct {
	text   string        // as configured
	sql    string        // with $n in place of the placeholders
	params []placeholder // params[i] is $i+1
}

// placeholder is one of EMQX's variables: 'u' user name, 'c' client id, 'a' peer IP
// address, 'C' and 'd' common name and subject of the client's TLS certificate.
type placeholder byte

// ParseQuery turns a configured query into SQL with bind parameters. Each distinct
// placeholder gets one parameter, reused where it appears again. A placeholder that is part
// of a longer string literal ('user:%u') cannot be bound and is an error naming it, as is an
// unterminated literal, quoted identifier or comment. A '%' that is not a placeholder is
// literal SQL (the modulo operator, LIKE patterns).
func ParseQuery(text string) (Query, error) {
	if strings.TrimSpace(text) == "" {
		return Query{}, fmt.Errorf("empty query")
	}
	q := Query{text: text}
	var sb strings.Builder
	index := map[placeholder]int{}
	bind := func(p placeholder) {
		n, ok := index[p]
		if !ok {
			q.params = append(q.params, p)
			n = len(q.params)
			index[p] = n
		}
		sb.WriteString("$" + strconv.Itoa(n))
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\'':
			end, err := literalEnd(text, i)
			if err != nil {
				return Query{}, err
			}
			lit := text[i:end]
			if len(lit) == 4 && isPlaceholder(lit[2]) && lit[1] == '%' {
				bind(placeholder(lit[2]))
			} else {
				if p := placeholderIn(lit); p != "" {
					return Query{}, fmt.Errorf("placeholder %s inside the string literal %s at offset %d cannot be bound as a parameter: write it as its own literal '%s' (concatenate with ||)", p, lit, i, p)
				}
				sb.WriteString(lit)
			}
			i = end
		case c == '"':
			j := strings.IndexByte(text[i+1:], '"')
			if j < 0 {
				return Query{}, fmt.Errorf("unterminated quoted identifier at offset %d", i)
			}
			sb.WriteString(text[i : i+j+2])
			i += j + 2
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			sb.WriteString(text[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				return Query{}, fmt.Errorf("unterminated comment at offset %d", i)
			}
			sb.WriteString(text[i : i+j+4])
			i += j + 4
		case c == '%' && i+1 < len(text) && isPlaceholder(text[i+1]):
			bind(placeholder(text[i+1]))
			i += 2
		default:
			sb.WriteByte(c)
			i++
		}
	}
	q.sql = sb.String()
	return q, nil
}

// literalEnd returns the offset just past the string literal starting at text[start] ('),
// where ” is an escaped quote.
func literalEnd(text string, start int) (int, error) {
	for j := start + 1; j < len(text); j++ {
		if text[j] != '\'' {
			continue
		}
		if j+1 < len(text) && text[j+1] == '\'' {
			j++
			continue
		}
		return j + 1, nil
	}
	return 0, fmt.Errorf("unterminated string literal at offset %d", start)
}

func isPlaceholder(c byte) bool {
	return c == 'u' || c == 'c' || c == 'a' || c == 'C' || c == 'd'
}

// placeholderIn returns the first placeholder written inside the literal lit, or "".
func placeholderIn(lit string) string {
	for i := 0; i+1 < len(lit); i++ {
		if lit[i] == '%' && isPlaceholder(lit[i+1]) {
			return lit[i : i+2]
		}
	}
	return ""
}

// String is the query as configured.
func (q Query) String() string { return q.text }

// SQL is the query sent to the server, with $1, $2… for the placeholders.
func (q Query) SQL() string { return q.sql }

// IsZero reports whether q is unset (the key was left empty).
func (q Query) IsZero() bool { return q.sql == "" }

// Uses reports whether the query has the placeholder p ('u', 'c', 'a', 'C' or 'd').
func (q Query) Uses(p byte) bool {
	for _, x := range q.params {
		if byte(x) == p {
			return true
		}
	}
	return false
}

// Args returns the bind parameters for client ci, in order. A value the client lacks (no
// user name, an unknown peer address, no TLS client certificate for %C and %d) is NULL, which
// equals nothing in SQL.
func (q Query) Args(ci *engine.ClientInfo) []any {
	args := make([]any, len(q.params))
	for i, p := range q.params {
		var v string
		switch p {
		case 'u':
			v = ci.Username
		case 'c':
			v = ci.ClientID
		case 'a':
			if ci.Peer.IsValid() {
				v = ci.Peer.Addr().Unmap().String()
			}
		case 'C':
			v = ci.CertCN
		case 'd':
			v = ci.CertDN
		}
		if v != "" {
			args[i] = v
		}
	}
	return args
}
