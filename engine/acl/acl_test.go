package acl

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/etc"
)

func client(user, id, addr string) *Client {
	c := &Client{Username: user, ClientID: id}
	if addr != "" {
		c.Addr = netip.MustParseAddr(addr)
	}
	return c
}

func mustParse(t *testing.T, src string) *Rules {
	t.Helper()
	r, err := Parse("acl.conf", []byte(src))
	if err != nil {
		t.Fatalf("cannot parse %q: %v", src, err)
	}
	return r
}

func TestDefaultFile(t *testing.T) {
	r := Default()
	if r.Len() != 4 {
		t.Fatalf("default acl.conf has %d rules, want 4", r.Len())
	}
	want := `{allow, {user, "dashboard"}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, pubsub, ["$SYS/#", "#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
{allow, all}.
`
	if got := r.String(); got != want {
		t.Fatalf("default rules:\n%s\nwant:\n%s", got, want)
	}
	rs := r.Rules()
	if rs[0].Permission != Allow || rs[2].Permission != Deny || rs[0].Line == 0 || rs[3].Line <= rs[2].Line {
		t.Fatalf("unexpected rule listing %+v", rs)
	}

	f := func(c *Client, access Access, topic string, want Result) {
		t.Helper()
		if got := r.Check(c, access, []byte(topic)); got != want {
			t.Fatalf("Check(%+v, %s, %q) = %s, want %s", *c, access, topic, got, want)
		}
	}
	dashboard := client("dashboard", "d1", "10.0.0.5")
	local := client("", "l1", "127.0.0.1")
	other := client("bob", "b1", "10.0.0.6")

	f(dashboard, Subscribe, "$SYS/#", Allow)
	f(dashboard, Subscribe, "$SYS/brokers/+/clients/#", Allow)
	f(local, Subscribe, "$SYS/#", Allow)
	f(local, Subscribe, "#", Allow)
	f(local, Publish, "$SYS/x", Allow)
	f(local, Publish, "a/b", Allow)
	f(client("", "l2", "::ffff:127.0.0.1"), Subscribe, "#", Allow)
	f(other, Subscribe, "$SYS/#", Deny)
	f(other, Subscribe, "$SYS/brokers", Deny)
	f(other, Subscribe, "#", Deny)
	f(other, Subscribe, "a/#", Allow)
	f(other, Subscribe, "+/#", Allow)
	f(other, Publish, "$SYS/x", Allow) // the guide denies only subscriptions
	f(other, Publish, "a/b", Allow)
	f(dashboard, Subscribe, "#", Deny)
	f(&Client{}, Subscribe, "#", Deny)
	f(&Client{}, Subscribe, "x", Allow)
}

func TestEmbeddedIsDefault(t *testing.T) {
	r, err := Parse("x", []byte(etc.ACLConf))
	if err != nil || r.String() != Default().String() {
		t.Fatalf("etc.ACLConf: %v", err)
	}
}

func TestCheck(t *testing.T) {
	f := func(src string, c *Client, access Access, topic string, want Result) {
		t.Helper()
		r := mustParse(t, src)
		if got := r.Check(c, access, []byte(topic)); got != want {
			t.Fatalf("%s\nCheck(%+v, %s, %q) = %s, want %s", src, *c, access, topic, got, want)
		}
	}
	anyone := client("u", "c", "10.1.2.3")

	// Access kinds.
	f(`{allow, all, publish, ["t"]}.`, anyone, Publish, "t", Allow)
	f(`{allow, all, publish, ["t"]}.`, anyone, Subscribe, "t", NoMatch)
	f(`{deny, all, subscribe, ["t"]}.`, anyone, Subscribe, "t", Deny)
	f(`{deny, all, subscribe, ["t"]}.`, anyone, Publish, "t", NoMatch)
	f(`{deny, all, pubsub, ["t"]}.`, anyone, Publish, "t", Deny)
	f(`{deny, all, pubsub, ["t"]}.`, anyone, Subscribe, "t", Deny)
	f(`{deny, all, all, ["t"]}.`, anyone, Subscribe, "t", Deny)
	f(`{deny, all}.`, anyone, Publish, "$SYS/x", Deny)
	f(`{allow, all}.`, anyone, Subscribe, "#", Allow)
	f("\xef\xbb\xbf{'allow', 'all'}.\r\n", anyone, Subscribe, "#", Allow)
	f(``, anyone, Subscribe, "#", NoMatch)

	// First match wins.
	f(`{deny, all, publish, ["a/#"]}. {allow, all}.`, anyone, Publish, "a/b", Deny)
	f(`{deny, all, publish, ["a/#"]}. {allow, all}.`, anyone, Publish, "b", Allow)
	f(`{allow, all, publish, ["x"]}. {deny, all, publish, ["#"]}.`, anyone, Publish, "x", Allow)

	// Publish: MQTT wildcards.
	pub := func(filter, topic string, want bool) {
		t.Helper()
		w := NoMatch
		if want {
			w = Allow
		}
		f(`{allow, all, publish, ["`+filter+`"]}.`, anyone, Publish, topic, w)
	}
	pub("a/b", "a/b", true)
	pub("a/b", "a/c", false)
	pub("a/b", "a/b/c", false)
	pub("a/b/c", "a/b", false)
	pub("a/+", "a/b", true)
	pub("a/+", "a/", true)
	pub("a/+", "a", false)
	pub("a/+", "a/b/c", false)
	pub("+/+", "/", true)
	pub("a/#", "a", true)
	pub("a/#", "a/b/c", true)
	pub("a/#", "ab", false)
	pub("#", "a/b", true)
	pub("#", "/", true)
	pub("#", "$SYS/x", false)
	pub("+/x", "$SYS/x", false)
	pub("$SYS/#", "$SYS/x", true)
	pub("$SYS/+", "$SYS/x", true)
	pub("a/+/c", "a/$x/c", true) // only the first level is special

	// Subscribe: the requested filter is matched word by word.
	sub := func(filter, subscription string, allow, deny bool) {
		t.Helper()
		wa, wd := NoMatch, NoMatch
		if allow {
			wa = Allow
		}
		if deny {
			wd = Deny
		}
		f(`{allow, all, subscribe, ["`+filter+`"]}.`, anyone, Subscribe, subscription, wa)
		f(`{deny, all, subscribe, ["`+filter+`"]}.`, anyone, Subscribe, subscription, wd)
	}
	sub("#", "a/+", true, true)
	sub("#", "#", true, true)
	sub("#", "$SYS/brokers", false, true)
	sub("#", "$SYS/#", false, true)
	sub("$SYS/#", "$SYS/brokers/+/clients", true, true)
	sub("a/+", "a/b", true, true)
	sub("a/+", "a/+", true, true)
	sub("a/+", "a/#", false, true)
	sub("a/+", "+/b", false, false)
	sub("a/+", "a", false, false)
	sub("a/b", "a/+", false, false)
	sub("a/b", "a/#", false, false)
	sub("a/#", "a", true, true)
	sub("a/#", "a/#", true, true)
	sub("a/#", "a/+/c", true, true)
	sub("a/#", "#", false, false)
	sub("+", "$SYS", false, true)
	sub("+/#", "#", false, true)

	// {eq, T}: literal whole-topic equality.
	f(`{deny, all, subscribe, [{eq, "#"}]}.`, anyone, Subscribe, "#", Deny)
	f(`{deny, all, subscribe, [{eq, "#"}]}.`, anyone, Subscribe, "a/#", NoMatch)
	f(`{deny, all, subscribe, [{eq, "#"}]}.`, anyone, Subscribe, "a", NoMatch)
	f(`{deny, all, subscribe, [{eq, "a/+"}]}.`, anyone, Subscribe, "a/+", Deny)
	f(`{deny, all, subscribe, [{eq, "a/+"}]}.`, anyone, Subscribe, "a/b", NoMatch)
	f(`{deny, all, publish, [{eq, "a/%u"}]}.`, anyone, Publish, "a/u", NoMatch)
	f(`{deny, all, publish, [{eq, "a/%u"}]}.`, anyone, Publish, "a/%u", Deny)
	f(`{deny, all, publish, [<<"t">>]}.`, anyone, Publish, "t", Deny)
	f(`{deny, all, publish, [{eq, <<"t">>}]}.`, anyone, Publish, "t", Deny)
	f(`{deny, all, publish, <<"a/+">>}.`, anyone, Publish, "a/b", Deny)
}

func TestPlaceholders(t *testing.T) {
	f := func(src string, c *Client, access Access, topic string, want Result) {
		t.Helper()
		r := mustParse(t, src)
		if got := r.Check(c, access, []byte(topic)); got != want {
			t.Fatalf("%s\nCheck(%+v, %s, %q) = %s, want %s", src, *c, access, topic, got, want)
		}
	}
	u := `{allow, all, pubsub, ["users/%u/#"]}.`
	f(u, client("alice", "c1", ""), Publish, "users/alice/inbox", Allow)
	f(u, client("alice", "c1", ""), Publish, "users/alice", Allow)
	f(u, client("alice", "c1", ""), Publish, "users/bob/inbox", NoMatch)
	f(u, client("alice", "c1", ""), Publish, "users/alicex/inbox", NoMatch)
	f(u, client("alice", "c1", ""), Publish, "users/%u/inbox", NoMatch)
	f(u, client("", "c1", ""), Publish, "users//inbox", NoMatch)
	f(u, client("", "c1", ""), Publish, "users/%u/inbox", NoMatch)
	f(u, client("alice", "c1", ""), Subscribe, "users/alice/#", Allow)
	f(u, client("alice", "c1", ""), Subscribe, "users/+/#", NoMatch)
	f(u, client("+", "c1", ""), Subscribe, "users/+/#", NoMatch) // a username is no wildcard
	f(u, client("a/b", "c1", ""), Publish, "users/a/b", NoMatch)

	c := `{deny, all, publish, ["devices/%c/+/%u"]}.`
	f(c, client("alice", "dev1", ""), Publish, "devices/dev1/x/alice", Deny)
	f(c, client("alice", "dev1", ""), Publish, "devices/dev2/x/alice", NoMatch)
	f(c, client("alice", "", ""), Publish, "devices//x/alice", NoMatch)
	f(c, client("", "dev1", ""), Publish, "devices/dev1/x/", NoMatch)
	f(`{deny, all, publish, ["%c"]}.`, client("", "dev1", ""), Publish, "dev1", Deny)
	f(`{deny, all, publish, ["x%c"]}.`, client("", "dev1", ""), Publish, "xdev1", NoMatch)
	f(`{deny, all, publish, ["x%c"]}.`, client("", "dev1", ""), Publish, "x%c", Deny)
}

func TestWho(t *testing.T) {
	f := func(whoClause string, c *Client, want bool) {
		t.Helper()
		src := "{deny, " + whoClause + ", publish, [\"t\"]}."
		r := mustParse(t, src)
		w := NoMatch
		if want {
			w = Deny
		}
		if got := r.Check(c, Publish, []byte("t")); got != w {
			t.Fatalf("%s\nCheck(%+v) = %s, want %s", src, *c, got, w)
		}
	}
	f(`all`, &Client{}, true)
	f(`{user, "alice"}`, client("alice", "x", ""), true)
	f(`{username, "alice"}`, client("alice", "x", ""), true)
	f(`{user, "alice"}`, client("bob", "alice", ""), false)
	f(`{user, "alice"}`, client("", "x", ""), false)
	f(`{user, all}`, client("", "x", ""), true)
	f(`{client, "c1"}`, client("c1", "c1", ""), true)
	f(`{clientid, "c1"}`, client("", "c1", ""), true)
	f(`{clientid, "c1"}`, client("c1", "c2", ""), false)
	f(`{client, all}`, client("", "", ""), true)
	f(`{user, "\x{263a}"}`, client("☺", "", ""), true)
	f(`{user, "a" "b"}`, client("ab", "", ""), true)
	f(`{user, <<"ab">>}`, client("ab", "", ""), true)

	// IPv4, IPv6, CIDRs.
	f(`{ipaddr, "127.0.0.1"}`, client("", "", "127.0.0.1"), true)
	f(`{ipaddr, "127.0.0.1"}`, client("", "", "127.0.0.2"), false)
	f(`{ipaddr, "127.0.0.1"}`, client("", "", "::ffff:127.0.0.1"), true)
	f(`{ipaddr, "127.0.0.1"}`, &Client{}, false)
	f(`{ipaddr, "192.168.0.0/24"}`, client("", "", "192.168.0.77"), true)
	f(`{ipaddr, "192.168.0.0/24"}`, client("", "", "192.168.1.1"), false)
	f(`{ipaddr, "192.168.0.9/24"}`, client("", "", "192.168.0.200"), true) // host bits cleared
	f(`{ipaddr, "0.0.0.0/0"}`, client("", "", "8.8.8.8"), true)
	f(`{ipaddr, "0.0.0.0/0"}`, client("", "", "2001:db8::1"), false)
	f(`{ipaddr, "::1"}`, client("", "", "::1"), true)
	f(`{ipaddr, "::1"}`, client("", "", "127.0.0.1"), false)
	f(`{ipaddr, "2001:db8::/32"}`, client("", "", "2001:db8:1::5"), true)
	f(`{ipaddr, "2001:db8::/32"}`, client("", "", "2001:db9::5"), false)
	f(`{ipaddr, "fe80::/10"}`, &Client{Addr: netip.MustParseAddr("fe80::1%eth0")}, true)
	f(`{ipaddr, "::ffff:10.0.0.0/104"}`, client("", "", "10.9.9.9"), true)
	f(`{ipaddrs, ["10.0.0.0/8", "::1"]}`, client("", "", "10.2.3.4"), true)
	f(`{ipaddrs, ["10.0.0.0/8", "::1"]}`, client("", "", "::1"), true)
	f(`{ipaddrs, ["10.0.0.0/8", "::1"]}`, client("", "", "11.0.0.1"), false)
	f(`{ipaddrs, []}`, client("", "", "11.0.0.1"), false)

	// and / or, nested.
	both := `{'and', [{user, "alice"}, {ipaddr, "10.0.0.0/8"}]}`
	f(both, client("alice", "", "10.1.1.1"), true)
	f(both, client("alice", "", "11.1.1.1"), false)
	f(both, client("bob", "", "10.1.1.1"), false)
	either := `{'or', [{user, "alice"}, {client, "c9"}]}`
	f(either, client("alice", "", ""), true)
	f(either, client("bob", "c9", ""), true)
	f(either, client("bob", "c8", ""), false)
	f(`{'and', []}`, &Client{}, true)
	f(`{'or', []}`, &Client{}, false)
	f(`{and, [{user, "a"}]}`, client("a", "", ""), true)
	nested := `{'or', [{'and', [{user, "a"}, {client, "1"}]}, {'and', [{user, "b"}, {'or', [{ipaddr, "::1"}, {ipaddr, "10.0.0.1"}]}]}]}`
	f(nested, client("a", "1", ""), true)
	f(nested, client("a", "2", ""), false)
	f(nested, client("b", "2", "10.0.0.1"), true)
	f(nested, client("b", "2", "10.0.0.2"), false)
	f(nested, client("b", "2", "::1"), true)
}

func TestParseErrors(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		_, err := Parse("acl.conf", []byte(src))
		if err == nil {
			t.Fatalf("%q parsed, want error %q", src, want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: error %T is not a *ParseError", src, err)
		}
		if err.Error() != want {
			t.Fatalf("%q:\n got  %s\n want %s", src, err, want)
		}
	}
	// A realistic file: the error is at line 7, column 23 ('publish').
	f(`%% acl.conf
{allow, {user, "dashboard"}, subscribe, ["$SYS/#"]}.

%% local host
{allow, {ipaddr, "127.0.0.1"}, pubsub, ["$SYS/#", "#"]}.

{allow, {user, "iot"} publish, ["t/#"]}.
{allow, all}.
`, `acl.conf:7:23: expected ',' or '}' after who-clause, found 'publish'`)
	f(`{allow, {usr, "x"}, publish, ["t"]}.`,
		`acl.conf:1:10: unknown who-clause 'usr', expected user, username, client, clientid, ipaddr, ipaddrs, 'and' or 'or'`)
	f(`{allow, all, pub, ["t"]}.`, `acl.conf:1:14: unknown access 'pub', expected subscribe, publish or pubsub`)
	f(`{alow, all}.`, `acl.conf:1:2: unknown permission 'alow', expected 'allow' or 'deny'`)
	f(`{allow, all}`, `acl.conf:1:13: expected '.' after rule, found end of file`)
	f("{allow, all}.\n{deny, all, publish, [\"t\"]", `acl.conf:2:27: expected '}' after topics, found end of file`)
	f(`{allow, {user, "x"}}.`, `acl.conf:1:20: expected ',' after who-clause {user, "x"}: only {allow, all} and {deny, all} have no access and topics`)
	f(`{allow, everyone, publish, ["t"]}.`,
		`acl.conf:1:9: unknown who-clause 'everyone', expected all or {user|username|client|clientid|ipaddr|ipaddrs|'and'|'or', …}`)
	f(`{allow, all, publish, "t"}.`, `acl.conf:1:23: expected '[' to start the list of topics, found "t" (write ["t"])`)
	f(`{allow, all, publish, ["t" "u]}.`, `acl.conf:1:28: unterminated string`)
	f("{allow, all, publish, [\"a/#/b\"]}.", `acl.conf:1:24: invalid topic "a/#/b": '#' must be the last level`)
	f("{allow, all, publish, [\"a/b#\"]}.", `acl.conf:1:24: invalid topic "a/b#": '+' and '#' must fill a whole level`)
	f("{allow, all, publish, [\"\"]}.", `acl.conf:1:24: invalid topic "": empty topic`)
	f("{allow, all, publish, [\"t\",]}.", `acl.conf:1:28: expected topic after ',', found ']'`)
	f("{allow, all, publish, [\"t\" \"u\" 1]}.", `acl.conf:1:32: expected ',' or ']' after topic, found '1'`)
	f("{allow, all, publish, [{neq, \"t\"}]}.", `acl.conf:1:25: unknown topic form 'neq', expected {eq, "topic"}`)
	f("\t{allow, {ipaddr, \"300.1.1.1\"}, publish, [\"t\"]}.",
		`acl.conf:1:19: invalid IP address or CIDR "300.1.1.1", expected e.g. "127.0.0.1", "192.168.0.0/24" or "fd00::/8"`)
	f(`{allow, {ipaddr, "10.0.0.0/33"}, publish, ["t"]}.`,
		`acl.conf:1:18: invalid IP address or CIDR "10.0.0.0/33", expected e.g. "127.0.0.1", "192.168.0.0/24" or "fd00::/8"`)
	f(`{allow, {ipaddrs, "10.0.0.1"}, publish, ["t"]}.`, `acl.conf:1:19: expected '[' to start the list of addresses, found "10.0.0.1"`)
	f(`{allow, {user, ""}, publish, ["t"]}.`, `acl.conf:1:16: empty username string: it would never match`)
	f(`{allow, {user, Name}, publish, ["t"]}.`, `acl.conf:1:16: expected a username string or all, found 'Name'`)
	f(`{allow, {user, "a\q"}, publish, ["t"]}.`+"\n{allow, {user, \"\\x{110000}\"}, publish, []}.",
		`acl.conf:2:17: invalid character code \x{110000}`)
	f(`{allow, {'and', {user, "a"}}, publish, ["t"]}.`, `acl.conf:1:17: expected '[' to start the list of who-clauses, found '{'`)
	f(`{allow, all, {publish, [{qos, 1}]}, ["t"]}.`, `acl.conf:1:14: expected access (subscribe, publish or pubsub), found '{'`)
	f("%% ünïcödé\n{allow, ☺}.", `acl.conf:2:9: expected who-clause (all or {user, "name"}, {client, "id"}, {ipaddr, "cidr"}, …), found '☺'`)
	f("{allow, all}.\n\n  allow.", `acl.conf:3:3: expected '{' to start a rule, found 'allow'`)
	f("{allow, 'all}.", `acl.conf:1:9: unterminated quoted atom`)
	f("{allow, all}.\xff", `acl.conf:1:14: invalid UTF-8 byte 0xff`)
	f(strings.Repeat(`{deny, {'or', [`, 1)+strings.Repeat(`{'or', [`, 20)+`all`, `acl.conf:1:137: 'and'/'or' nested deeper than 16`)
}

func TestRoundTrip(t *testing.T) {
	src := `
%% every form
{allow, {user, "dash\"board"}, subscribe, ["$SYS/#"]}.
{allow, {username, <<"u">>}, publish, [<<"a/%u/#">>, {eq, <<"x">>}]}.
{deny, {client, all}, pubsub, ["t\n\x{263a}\x{7f}"]}.
{deny, {clientid, "c" "d"}, all, <<"t/+">>}.
{'allow', {ipaddrs, ["10.0.0.0/8", "::1"]}, publish, []}.
{allow, {'and', [{ipaddr, "fd00::/8"}, {or, [{user, all}, all]}]}, subscribe, ["+/%c"]}.
{deny, all}.
`
	r := mustParse(t, src)
	want := `{allow, {user, "dash\"board"}, subscribe, ["$SYS/#"]}.
{allow, {username, "u"}, publish, ["a/%u/#", {eq, "x"}]}.
{deny, {client, all}, pubsub, ["t\n☺\x{7f}"]}.
{deny, {clientid, "cd"}, pubsub, <<"t/+">>}.
{allow, {ipaddrs, ["10.0.0.0/8", "::1"]}, publish, []}.
{allow, {'and', [{ipaddr, "fd00::/8"}, {'or', [{user, all}, all]}]}, subscribe, ["+/%c"]}.
{deny, all}.
`
	if got := r.String(); got != want {
		t.Fatalf("String():\n%s\nwant:\n%s", got, want)
	}
	r2 := mustParse(t, r.String())
	if r2.String() != want {
		t.Fatalf("second round:\n%s", r2.String())
	}
	lines := []int{3, 4, 5, 6, 7, 8, 9}
	for i, ru := range r.Rules() {
		if ru.Line != lines[i] {
			t.Fatalf("rule %d at line %d, want %d", i, ru.Line, lines[i])
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acl.conf")
	if err := os.WriteFile(path, []byte(etc.ACLConf), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil || r.Len() != 4 || r.Name() != path {
		t.Fatalf("Load: %v", err)
	}
	if err := os.WriteFile(path, []byte("{allow, all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":1:12: ") {
		t.Fatalf("Load of a broken file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "cannot load acl file") {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestNilRules(t *testing.T) {
	var r *Rules
	if r.Len() != 0 || r.String() != "" || r.Rules() != nil || r.Check(&Client{}, Publish, []byte("t")) != NoMatch {
		t.Fatal("nil *Rules is not empty")
	}
}

func TestCheckBadAccess(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Check(PubSub) did not panic")
		}
	}()
	Default().Check(&Client{}, PubSub, []byte("t"))
}

func TestStrings(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	f(Allow.String(), "allow")
	f(Deny.String(), "deny")
	f(NoMatch.String(), "nomatch")
	f(Result(9).String(), "Result(9)")
	f(Publish.String(), "publish")
	f(Subscribe.String(), "subscribe")
	f(PubSub.String(), "pubsub")
	f(Access(0).String(), "Access(0)")
}

func TestCheckAllocs(t *testing.T) {
	r := mustParse(t, `
{allow, {'and', [{user, "dashboard"}, {ipaddrs, ["10.0.0.0/8", "fd00::/8"]}]}, subscribe, ["$SYS/#"]}.
{deny, all, pubsub, ["users/%u/+/%c", {eq, "#"}]}.
{allow, {ipaddr, "127.0.0.1"}, pubsub, ["$SYS/#", "#"]}.
`)
	c := client("alice", "dev1", "fd00::1")
	topic := []byte("users/alice/x/dev2")
	n := testing.AllocsPerRun(100, func() {
		r.Check(c, Publish, topic)
		r.Check(c, Subscribe, topic)
	})
	if n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}
