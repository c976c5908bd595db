package acl

import (
	"net/netip"
	"strings"
	"testing"
)

// TestCompileTable: EMQX's example mqtt_acl rows and its semantics: the first matching row
// decides, "$all" names everyone, the named columns must all match, "eq " is literal.
func TestCompileTable(t *testing.T) {
	rows := []TableRow{
		{Allow: "1", Username: "$all", ClientID: "ignored", Access: "2", Topic: "#"},
		{Allow: "0", Username: "$all", Access: "1", Topic: "$SYS/#"},
		{Allow: "0", Username: "$all", Access: "1", Topic: "eq #"},
		{Allow: "1", IPAddr: "127.0.0.1", Access: "2", Topic: "$SYS/#"},
		{Allow: "1", Username: "dashboard", Access: "1", Topic: "$SYS/#"},
		{Allow: "1", Username: "u1", ClientID: "c1", IPAddr: "10.0.0.0/8", Access: "3", Topic: "dev/%c/#"},
		{Allow: "0", Username: "u1", Access: "3", Topic: "dev/#"},
	}
	r, err := CompileTable("test", rows)
	if err != nil {
		t.Fatal(err)
	}
	local := &Client{Username: "u1", ClientID: "c1", Addr: netip.MustParseAddr("127.0.0.1")}
	inside := &Client{Username: "u1", ClientID: "c1", Addr: netip.MustParseAddr("10.1.2.3")}
	dash := &Client{Username: "dashboard", ClientID: "d", Addr: netip.MustParseAddr("192.0.2.1")}
	f := func(c *Client, access Access, topic string, want Result) {
		t.Helper()
		if got := r.Check(c, access, []byte(topic)); got != want {
			t.Errorf("%s %s %q: %v, want %v", c.Username, access, topic, got, want)
		}
	}
	f(local, Publish, "a/b", Allow)            // row 1
	f(local, Publish, "$SYS/x", Allow)         // row 4 (row 1's # is strict about $)
	f(dash, Publish, "$SYS/x", NoMatch)        // not from 127.0.0.1
	f(dash, Subscribe, "$SYS/brokers", Deny)   // row 2 comes first
	f(local, Subscribe, "#", Deny)             // row 3
	f(inside, Subscribe, "dev/c1/t", Allow)    // row 6: all three columns match
	f(local, Subscribe, "dev/c1/t", Deny)      // row 6 needs 10/8; row 7 denies
	f(inside, Subscribe, "dev/c2/t", Deny)     // row 7
	f(dash, Subscribe, "other/topic", NoMatch) // no row
	if rs := r.Rules(); len(rs) != len(rows) || rs[5].Line != 6 ||
		rs[5].Text != `{allow, {'and', [{ipaddr, "10.0.0.0/8"}, {user, "u1"}, {client, "c1"}]}, pubsub, ["dev/%c/#"]}.` {
		t.Errorf("rules: %+v", rs)
	}
	if _, err := Parse("again", []byte(r.String())); err != nil {
		t.Errorf("canonical text does not parse back: %v\n%s", err, r.String())
	}
}

// TestCompileTableErrors: a bad row fails the whole table, naming the row and the cause.
func TestCompileTableErrors(t *testing.T) {
	good := TableRow{Allow: "1", Username: "u", Access: "3", Topic: "t"}
	f := func(bad TableRow, want string) {
		t.Helper()
		_, err := CompileTable("plugin", []TableRow{good, bad})
		if err == nil || !strings.Contains(err.Error(), "plugin: row 2 of mqtt_acl: "+want) {
			t.Errorf("%+v: %v, want %q", bad, err, want)
		}
	}
	f(TableRow{Allow: "yes", Username: "u", Access: "1", Topic: "t"}, `allow is "yes"`)
	f(TableRow{Allow: "1", Username: "u", Access: "4", Topic: "t"}, `access is "4"`)
	f(TableRow{Allow: "1", Access: "1", Topic: "t"}, "ipaddr, username and clientid are all empty")
	f(TableRow{Allow: "1", IPAddr: "300.1.1.1", Access: "1", Topic: "t"}, "invalid IP address")
	f(TableRow{Allow: "1", Username: "u", Access: "1", Topic: "a/#/b"}, "invalid topic")
	f(TableRow{Allow: "1", Username: "u", Access: "1", Topic: ""}, "invalid topic")
}
