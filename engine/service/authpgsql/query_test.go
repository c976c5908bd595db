package authpgsql

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine"
)

// TestParseQuery: placeholders become parameters, one per distinct placeholder, whether quoted
// ('%u') or bare; literals, quoted identifiers, comments and other '%' are left alone; a
// placeholder inside a longer literal and unterminated tokens are errors.
func TestParseQuery(t *testing.T) {
	for _, c := range []struct{ in, sql string }{
		{defaultAuthQuery, "select password from mqtt_user where username = $1 limit 1"},
		{defaultACLQuery, "select allow, ipaddr, username, clientid, access, topic from mqtt_acl where ipaddr = $1 or username = $2 or username = '$all' or clientid = $3"},
		{"select 1 where a = %u and b = '%u' and c = '%c'", "select 1 where a = $1 and b = $1 and c = $2"},
		{`select "%u", 'it''s' -- '%u
from t where x like '10%' and y = 7 % 3 /* %c */ and z = %C and w = '%d'`, `select "%u", 'it''s' -- '%u
from t where x like '10%' and y = 7 % 3 /* %c */ and z = $1 and w = $2`},
	} {
		q, err := ParseQuery(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if q.SQL() != c.sql {
			t.Errorf("%s:\n got %s\nwant %s", c.in, q.SQL(), c.sql)
		}
	}
	for _, c := range []struct{ in, err string }{
		{"select 1 where u = 'user:%u'", "placeholder %u inside the string literal 'user:%u'"},
		{"select 1 where u = 'x", "unterminated string literal at offset 19"},
		{`select "x from t`, "unterminated quoted identifier"},
		{"select /* x", "unterminated comment"},
		{"  ", "empty query"},
	} {
		if _, err := ParseQuery(c.in); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.in, err, c.err)
		}
	}
}

// TestQueryArgs: the client's values in parameter order; a missing value (the certificate's
// fields of a client without one) is NULL.
func TestQueryArgs(t *testing.T) {
	q := mustQuery(t, "select 1 where a = '%a' or u = '%u' or c = '%c' or n = '%C' or u2 = %u")
	ci := &engine.ClientInfo{ClientID: "c1", Peer: netip.MustParseAddrPort("[::ffff:10.1.2.3]:1883")}
	if got, want := q.Args(ci), []any{"10.1.2.3", nil, "c1", nil}; !reflect.DeepEqual(got, want) {
		t.Errorf("args %#v, want %#v", got, want)
	}
	ci.CertCN = "dev"
	if got, want := q.Args(ci), []any{"10.1.2.3", nil, "c1", "dev"}; !reflect.DeepEqual(got, want) {
		t.Errorf("args with a certificate %#v, want %#v", got, want)
	}
}
