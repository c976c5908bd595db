package authmysql

import (
	"fmt"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// Query is an SQL query of the plugin's configuration (auth_query, super_query, acl_query)
// with its placeholders turned into parameters. A string literal that is exactly a
// placeholder ('%u', "%u") becomes a ? marker, and the client's value is sent apart from the
// SQL text, as a parameter of a prepared statement: a username such as "' or 1=1 --" is
// compared as a value, never read as SQL. Immutable once parsed.
type Query struct {
	text   string      // as configured
	sql    string      // with ? markers
	params []byte      // the placeholder letter of each marker, in order
	uses   placeholder // the set of letters in params
}

type placeholder uint8

const (
	useUsername placeholder = 1 << iota // %u
	useClientID                         // %c
	useAddr                             // %a
	useCertCN                           // %C
	useCertDN                           // %d
)

func placeholderOf(letter byte) (placeholder, bool) {
	switch letter {
	case 'u':
		return useUsername, true
	case 'c':
		return useClientID, true
	case 'a':
		return useAddr, true
	case 'C':
		return useCertCN, true
	case 'd':
		return useCertDN, true
	}
	return 0, false
}

// ParseQuery rewrites the placeholders of an SQL query: %u (username), %c (client id), %a
// (peer IP address), %C and %d (common name and subject of the client's TLS certificate),
// each written as a quoted string literal of its own, as in EMQX's
// "select password from mqtt_user where username = '%u' limit 1". A placeholder outside
// quotes is an error (the server would read it as the modulo operator); a '%' inside a longer
// literal ('%user%' in a LIKE) is literal text. An empty query or an unterminated literal is
// an error too.
func ParseQuery(s string) (Query, error) {
	q := Query{text: s}
	if strings.TrimSpace(s) == "" {
		return q, fmt.Errorf("empty query")
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\'', '"', '`':
			end, err := literalEnd(s, i)
			if err != nil {
				return q, err
			}
			lit := s[i:end]
			if c != '`' && len(lit) == 4 && lit[1] == '%' && lit[3] == c {
				if p, ok := placeholderOf(lit[2]); ok {
					sb.WriteByte('?')
					q.params = append(q.params, lit[2])
					q.uses |= p
					i = end
					continue
				}
			}
			sb.WriteString(lit)
			i = end
			continue
		case '%':
			if i+1 < len(s) {
				if _, ok := placeholderOf(s[i+1]); ok {
					return q, fmt.Errorf("placeholder %s at byte %d is not quoted: write '%s'", s[i:i+2], i, s[i:i+2])
				}
			}
		}
		sb.WriteByte(c)
		i++
	}
	q.sql = sb.String()
	return q, nil
}

// literalEnd returns the index just past the quoted literal (or `identifier`) starting at
// s[start]: a doubled quote and, outside identifiers, a backslash escape stay inside it.
func literalEnd(s string, start int) (int, error) {
	quote := s[start]
	for i := start + 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			if i+1 < len(s) && s[i+1] == quote {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%c at byte %d is never closed", quote, start)
}

// String is the query as configured.
func (q Query) String() string { return q.text }

// SQL is the query sent to the server, with a ? marker for each placeholder.
func (q Query) SQL() string { return q.sql }

// IsZero reports whether q is unset (the key was left empty).
func (q Query) IsZero() bool { return q.text == "" }

// Args returns the query's parameters for client ci, in marker order, and false when ci has
// no value for a placeholder the query uses: a client without a username is not looked up
// by "username = '%u'" (the plugin ignores it), nor one without a TLS client certificate by a
// query with %C or %d.
func (q Query) Args(ci *engine.ClientInfo) ([]any, bool) {
	var addr string
	if ci.Peer.IsValid() {
		addr = ci.Peer.Addr().Unmap().String()
	}
	switch {
	case q.uses&useUsername != 0 && ci.Username == "",
		q.uses&useClientID != 0 && ci.ClientID == "",
		q.uses&useAddr != 0 && addr == "",
		q.uses&useCertCN != 0 && ci.CertCN == "",
		q.uses&useCertDN != 0 && ci.CertDN == "":
		return nil, false
	}
	args := make([]any, len(q.params))
	for i, p := range q.params {
		switch p {
		case 'u':
			args[i] = ci.Username
		case 'c':
			args[i] = ci.ClientID
		case 'a':
			args[i] = addr
		case 'C':
			args[i] = ci.CertCN
		case 'd':
			args[i] = ci.CertDN
		}
	}
	return args, true
}
