package authmysql

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine"
)

// TestParseQuery: quoted placeholders become markers, everything else stays as written.
func TestParseQuery(t *testing.T) {
	ci := &engine.ClientInfo{Username: "u'1", ClientID: "c1", Peer: netip.MustParseAddrPort("[::ffff:10.0.0.7]:1883")}
	f := func(text, wantSQL string, wantArgs ...any) {
		t.Helper()
		q, err := ParseQuery(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if q.SQL() != wantSQL || q.String() != text {
			t.Errorf("%s:\n sql  %s\n want %s", text, q.SQL(), wantSQL)
		}
		args, ok := q.Args(ci)
		if !ok || !reflect.DeepEqual(args, append([]any{}, wantArgs...)) {
			t.Errorf("%s: args %q %v, want %q", text, args, ok, wantArgs)
		}
	}
	f("select password from mqtt_user where username = '%u' limit 1",
		"select password from mqtt_user where username = ? limit 1", "u'1")
	f(`select 1 where a = "%c" or b = '%a' or c = '%u'`, "select 1 where a = ? or b = ? or c = ?", "c1", "10.0.0.7", "u'1")
	f("select 1 where u like '%u%' and v = '%%u' and w = 'it''s %u' and x = 'a\\'%u'",
		"select 1 where u like '%u%' and v = '%%u' and w = 'it''s %u' and x = 'a\\'%u'")
	f("select 1 where `%u` = '%x' and n % 2 = 0", "select 1 where `%u` = '%x' and n % 2 = 0")
	f("select '$all' from t where username = '%u'", "select '$all' from t where username = ?", "u'1")

	for _, c := range []struct{ text, want string }{
		{"", "empty query"},
		{"select 1 where username = %u", "placeholder %u at byte 26 is not quoted: write '%u'"},
		{"select 1 where username = '%u", "' at byte 26 is never closed"},
		{"select 1 where username = 'x\\'", "' at byte 26 is never closed"},
	} {
		if _, err := ParseQuery(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}

// TestQueryArgsMissing: a query is not run for a client lacking a value it needs.
func TestQueryArgsMissing(t *testing.T) {
	f := func(text string, ci *engine.ClientInfo, want bool) {
		t.Helper()
		q, err := ParseQuery(text)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := q.Args(ci); ok != want {
			t.Errorf("%s for %+v: runnable %v, want %v", text, ci, ok, want)
		}
	}
	full := &engine.ClientInfo{Username: "u", ClientID: "c", Peer: netip.MustParseAddrPort("127.0.0.1:1")}
	f("select 1 where a = '%u'", &engine.ClientInfo{ClientID: "c"}, false)
	f("select 1 where a = '%c'", &engine.ClientInfo{Username: "u"}, false)
	f("select 1 where a = '%a'", &engine.ClientInfo{Username: "u"}, false)
	f("select 1 where a = '%C'", full, false)
	f("select 1 where a = '%d'", full, false)
	withCert := &engine.ClientInfo{Username: "u", CertCN: "cn", CertDN: "CN=cn"}
	f("select 1 where a = '%C' and b = '%d'", withCert, true)
	f("select 1 where a = '%C' and b = '%d'", &engine.ClientInfo{Username: "u", CertCN: "cn"}, false)
	f("select 1 where a = '%u' and b = '%c' and c = '%a'", full, true)
	f("select 1", &engine.ClientInfo{}, true)
}
