package authmongo

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/engine"
)

// Selector is a query selector of the configuration (auth_query.selector, super_query.selector,
// acl_query.selector.N): field=value pairs separated by commas or spaces, all of which a
// document must match ("username=%u, clientid=%c"). A value that is exactly %u or %c is the
// client's user name or client id, %C or %d its certificate's common name or subject; any other
// value is literal ("username=$all"). Values go to the server as BSON strings, never parsed:
// a user name such as {"$ne": null} is a string like any other. Immutable once parsed.
type Selector struct {
	fields []selectorField
}

type selectorField struct {
	name, value string
	placeholder byte // 'u', 'c', 'C', 'd' or 0 for a literal
}

// ParseSelector reads a selector of the configuration. An empty one, a pair without '=' or with
// an empty field name is an error.
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		name, value, ok := strings.Cut(tok, "=")
		if !ok || name == "" {
			return Selector{}, fmt.Errorf("%q is no field=value pair", tok)
		}
		f := selectorField{name: name, value: value}
		if len(value) == 2 && value[0] == '%' && strings.IndexByte("ucCd", value[1]) >= 0 {
			f.placeholder = value[1]
		}
		sel.fields = append(sel.fields, f)
	}
	if len(sel.fields) == 0 {
		return Selector{}, fmt.Errorf("empty selector")
	}
	return sel, nil
}

// IsZero reports whether s is unset.
func (s Selector) IsZero() bool { return len(s.fields) == 0 }

// String is the selector as field=value pairs.
func (s Selector) String() string {
	parts := make([]string, len(s.fields))
	for i, f := range s.fields {
		parts[i] = f.name + "=" + f.value
	}
	return strings.Join(parts, ", ")
}

// Filter returns the query filter for client ci, and false when ci has no value for a
// placeholder the selector uses (no user name, no TLS client certificate for %C and %d): such
// a client is not looked up.
func (s Selector) Filter(ci *engine.ClientInfo) (bson.D, bool) {
	d := make(bson.D, 0, len(s.fields))
	for _, f := range s.fields {
		v := f.value
		switch f.placeholder {
		case 'u':
			v = ci.Username
		case 'c':
			v = ci.ClientID
		case 'C':
			v = ci.CertCN
		case 'd':
			v = ci.CertDN
		}
		if f.placeholder != 0 && v == "" {
			return nil, false
		}
		d = append(d, bson.E{Key: f.name, Value: v})
	}
	return d, true
}
