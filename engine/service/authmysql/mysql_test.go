package authmysql

import (
	"testing"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/passhash"
)

// TestAuthenticate: EMQX's default auth_query with plain passwords. A stored user is allowed
// with its password and refused otherwise; a user the table does not have and a client
// without a username are ignored (allow_anonymous decides), the latter without a query.
func TestAuthenticate(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('auth-alice', 'secret-a')",
		"INSERT INTO mqtt_user (username, password) VALUES ('auth-nullpw', NULL)")
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, true, acl.Allow, p)

	wantConnack(t, addr, "a1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr, "a2", "auth-alice", "wrong", rcBadCredentials)
	wantConnack(t, addr, "a3", "auth-alice", "", rcBadCredentials)
	wantConnack(t, addr, "a4", "auth-nobody", "whatever", rcSuccess) // ignored: anonymous allowed
	wantConnack(t, addr, "a5", "auth-nullpw", "", rcBadCredentials)  // a NULL password matches nothing
	before := p.Stats().Queries
	wantConnack(t, addr, "a6", "", "", rcSuccess)
	if got := p.Stats().Queries; got != before {
		t.Errorf("a client without a username cost %d queries, want none", got-before)
	}

	// With anonymous clients refused, the ignored ones are refused too.
	p2, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	wantConnack(t, addr2, "b1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr2, "b2", "auth-nobody", "whatever", rcBadCredentials)
}

// TestPasswordHash: EMQX's default password_hash sha256, a salted sha256 digest with the salt
// from a salt column, and bcrypt.
func TestPasswordHash(t *testing.T) {
	s := needMariaDB(t)
	hash := func(spec passhash.Spec, pw, salt string) string {
		h, err := passhash.Hash(spec, []byte(pw), []byte(salt))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	sha := passhash.Spec{Algo: passhash.SHA256}
	salted := passhash.Spec{Algo: passhash.SHA256, Salt: passhash.Prefix}
	bc := passhash.Spec{Algo: passhash.Bcrypt}
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('hash-sha', '"+hash(sha, "pw-sha", "")+"')",
		"INSERT INTO mqtt_user (username, password, salt) VALUES ('hash-salted', '"+hash(salted, "pw-salted", "NaCl")+"', 'NaCl')",
		"INSERT INTO mqtt_user (username, password) VALUES ('hash-bcrypt', '"+hash(bc, "pw-bcrypt", "")+"')")

	p, _ := newPlugin(t, s, func(c *Config) { c.PasswordHash = sha })
	addr := startNode(t, false, acl.Allow, p)
	wantConnack(t, addr, "h1", "hash-sha", "pw-sha", rcSuccess)
	wantConnack(t, addr, "h2", "hash-sha", "pw-other", rcBadCredentials)

	ps, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery = mustQuery(t, "select password, salt from mqtt_user where username = '%u' limit 1")
		c.PasswordHash = salted
	})
	addrs := startNode(t, false, acl.Allow, ps)
	wantConnack(t, addrs, "h3", "hash-salted", "pw-salted", rcSuccess)
	wantConnack(t, addrs, "h4", "hash-salted", "NaClpw-salted", rcBadCredentials)

	pb, _ := newPlugin(t, s, func(c *Config) { c.PasswordHash = bc })
	addrb := startNode(t, false, acl.Allow, pb)
	wantConnack(t, addrb, "h5", "hash-bcrypt", "pw-bcrypt", rcSuccess)
	wantConnack(t, addrb, "h6", "hash-bcrypt", "pw-other", rcBadCredentials)
}

// TestSuperuserAndACL: EMQX's default acl_query over mqtt_acl rows: by username, by client
// id, by address, for "$all"; allow 1 and 0; access 1, 2, 3; "eq " topics; the first matching
// row decides, no matching row leaves the request to acl_nomatch (deny here). A superuser
// (is_superuser 1) skips the checks.
func TestSuperuserAndACL(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t,
		"INSERT INTO mqtt_user (username, password, is_superuser) VALUES ('acl-root', 'pw', 1), ('acl-dev', 'pw', 0), ('acl-none', 'pw', 0)",
		`INSERT INTO mqtt_acl (allow, ipaddr, username, clientid, access, topic) VALUES
			(0, NULL, 'acl-dev', NULL, 2, 'sensors/%u/secret'),
			(1, NULL, 'acl-dev', NULL, 2, 'sensors/%u/#'),
			(1, NULL, NULL, 'dev-1', 1, 'cmd/%c'),
			(1, NULL, 'acl-dev', NULL, 3, 'both/+'),
			(1, '127.0.0.0/8', 'acl-dev', NULL, 1, 'local/#'),
			(1, '10.0.0.0/8', 'acl-dev', NULL, 1, 'remote/#'),
			(1, NULL, '$all', NULL, 2, 'public/#'),
			(0, NULL, '$all', NULL, 1, 'eq #')`)
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Deny, p)

	dev, rc := connect(t, addr, "dev-1", "acl-dev", "pw")
	if dev == nil {
		t.Fatalf("acl-dev refused: %#x", rc)
	}
	for _, c := range []struct {
		filter string
		want   byte
	}{
		{"cmd/dev-1", rcGrantedQoS1},
		{"cmd/dev-2", rcNotAuthorized},
		{"cmd/+", rcNotAuthorized},             // a row's literal level does not cover the request's wildcard
		{"sensors/acl-dev/t", rcNotAuthorized}, // publish only
		{"both/x", rcGrantedQoS1},
		{"both/x/y", rcNotAuthorized},
		{"local/a/b", rcGrantedQoS1}, // the client is on 127.0.0.1
		{"remote/a", rcNotAuthorized},
		{"#", rcNotAuthorized},        // "eq #" denies; acl_nomatch would too, see acl-none below
		{"public/x", rcNotAuthorized}, // $all may publish there, not subscribe
	} {
		if got := subscribeCode(t, dev, c.filter); got != c.want {
			t.Errorf("acl-dev subscribe %q: %#x, want %#x", c.filter, got, c.want)
		}
	}
	for _, c := range []struct {
		topic string
		want  byte
	}{
		{"sensors/acl-dev/temp", rcSuccess},
		{"sensors/acl-dev/secret", rcNotAuthorized}, // the deny row comes first
		{"sensors/acl-other/temp", rcNotAuthorized},
		{"cmd/dev-1", rcNotAuthorized}, // subscribe only
		{"both/y", rcSuccess},
		{"public/news", rcSuccess}, // the $all row
	} {
		if got := publishCode(t, dev, c.topic); got != c.want {
			t.Errorf("acl-dev publish %q: %#x, want %#x", c.topic, got, c.want)
		}
	}

	root, rc := connect(t, addr, "root-1", "acl-root", "pw")
	if root == nil {
		t.Fatalf("acl-root refused: %#x", rc)
	}
	before := p.Stats().Queries
	if got := subscribeCode(t, root, "#"); got != rcGrantedQoS1 {
		t.Errorf("superuser subscribe: %#x", got)
	}
	if got := publishCode(t, root, "anything/at/all"); got != rcSuccess {
		t.Errorf("superuser publish: %#x", got)
	}
	if got := p.Stats().Queries; got != before {
		t.Errorf("a superuser's requests cost %d queries, want none", got-before)
	}
}

// TestACLIgnored: a client without rows, and one whose rows do not match the request, are
// left to the rest of the chain: acl_nomatch decides.
func TestACLIgnored(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('ign-user', 'pw'), ('ign-rows', 'pw')",
		"INSERT INTO mqtt_acl (allow, username, access, topic) VALUES (1, 'ign-rows', 3, 'mine/#')")
	for _, c := range []struct {
		noMatch acl.Result
		want    byte
	}{{acl.Allow, rcGrantedQoS1}, {acl.Deny, rcNotAuthorized}} {
		p, _ := newPlugin(t, s, nil)
		addr := startNode(t, false, c.noMatch, p)
		for _, user := range []string{"ign-user", "ign-rows"} {
			cl, rc := connect(t, addr, user+"-1", user, "pw")
			if cl == nil {
				t.Fatalf("%s refused: %#x", user, rc)
			}
			if got := subscribeCode(t, cl, "any/thing"); got != c.want {
				t.Errorf("%s, acl_nomatch %v: subscribe %#x, want %#x", user, c.noMatch, got, c.want)
			}
			if user == "ign-rows" {
				if got := subscribeCode(t, cl, "mine/x"); got != rcGrantedQoS1 {
					t.Errorf("%s subscribe to its row's topic: %#x", user, got)
				}
			}
		}
	}
}

// TestPlaceholders: %c, %u and %a bound in queries of the user's own: in function
// arguments, several times over, and beside a literal that holds a '%' (a LIKE pattern).
func TestPlaceholders(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password, is_superuser) VALUES ('ph-7:ph-user', 'pw-7', 0), ('ph-8:ph-admin', 'pw-8', 1)",
		"INSERT INTO mqtt_acl (allow, ipaddr, username, clientid, access, topic) VALUES (1, '127.0.0.1', 'ph-user', 'ph-7', 2, 't/%u/%c')")
	p, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery = mustQuery(t, "select password from mqtt_user where username = concat('%c', ':', '%u') limit 1")
		c.SuperQuery = mustQuery(t, "select is_superuser from mqtt_user where username = concat('%c', ':', '%u') and '%u' like 'ph-%' and '%a' = '127.0.0.1'")
		c.ACLQuery = mustQuery(t, "select allow, ipaddr, username, clientid, access, topic from mqtt_acl where ipaddr = '%a' and clientid = '%c' order by id")
	})
	addr := startNode(t, false, acl.Deny, p)
	c, rc := connect(t, addr, "ph-7", "ph-user", "pw-7")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	wantConnack(t, addr, "ph-9", "ph-user", "pw-7", rcBadCredentials) // another client id: no such row
	if got := publishCode(t, c, "t/ph-user/ph-7"); got != rcSuccess {
		t.Errorf("publish by the row of %%a and %%c: %#x", got)
	}
	if got := publishCode(t, c, "t/ph-user/ph-8"); got != rcNotAuthorized {
		t.Errorf("publish outside the row: %#x", got)
	}
	admin, rc := connect(t, addr, "ph-8", "ph-admin", "pw-8")
	if admin == nil {
		t.Fatalf("ph-admin refused: %#x", rc)
	}
	if got := publishCode(t, admin, "anything"); got != rcSuccess {
		t.Errorf("superuser by super_query's %%u, %%c and %%a: publish %#x", got)
	}
}

// TestInjection: usernames written to break out of the quoted '%u' are compared as values:
// they find no user, so they are refused (anonymous clients are), and with anonymous clients
// allowed they get no other user's ACL rows. The tables are intact afterwards.
func TestInjection(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('inj-victim', 'victim-pw')",
		"INSERT INTO mqtt_acl (allow, username, access, topic) VALUES (1, 'inj-victim', 3, 'victim/#')")
	names := []string{
		"' or 1=1 --",
		"' or '1'='1",
		`\' or 1=1 -- `,
		"x' union select 'victim-pw' -- ",
		"inj-victim' -- ",
		"'; delete from mqtt_user; --",
		"inj-%",
	}
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Deny, p)
	for i, name := range names {
		wantConnack(t, addr, "inj-"+string(rune('a'+i)), name, "victim-pw", rcBadCredentials)
	}
	pa, _ := newPlugin(t, s, nil)
	addra := startNode(t, true, acl.Deny, pa)
	for i, name := range names {
		c, rc := connect(t, addra, "inj-anon-"+string(rune('a'+i)), name, "x")
		if c == nil {
			t.Fatalf("%q refused with anonymous clients allowed: %#x", name, rc)
		}
		if got := subscribeCode(t, c, "victim/x"); got != rcNotAuthorized {
			t.Errorf("%q subscribed to the victim's topic: %#x", name, got)
		}
	}
	var n int
	if err := s.Admin.QueryRow("SELECT count(*) FROM mqtt_user WHERE username = 'inj-victim'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the victim's row after the attempts: %d, %v", n, err)
	}
	wantConnack(t, addr, "inj-ok", "inj-victim", "victim-pw", rcSuccess)
}

// TestBrokenQueries: a query the server refuses (no such table) refuses clients with "server
// unavailable", and ACL rows that cannot be read deny; neither is an outage.
func TestBrokenQueries(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('brk-user', 'pw')",
		"INSERT INTO mqtt_acl (allow, username, access, topic) VALUES (7, 'brk-user', 3, 'x/#')")
	p, rec := newPlugin(t, s, func(c *Config) {
		c.AuthQuery = mustQuery(t, "select password from no_such_table where username = '%u'")
	})
	addr := startNode(t, true, acl.Allow, p)
	wantConnack(t, addr, "brk-1", "brk-user", "pw", rcUnavailable)

	p2, rec2 := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	c, rc := connect(t, addr2, "brk-2", "brk-user", "pw")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, c, "x/y"); got != rcNotAuthorized {
		t.Errorf("subscribe with an unreadable row (allow 7): %#x, want %#x", got, rcNotAuthorized)
	}
	if n := rec2.Count(`emqx_auth_mysql: row 1 of mqtt_acl: allow is "7", expected 1 (allow) or 0 (deny)`); n != 1 {
		t.Logf("log: %q", rec2.Messages())
		t.Errorf("unreadable row logged %d times, want once", n)
	}
	if st := p.Stats(); st.Outages != 0 || rec.Count("mysql does not answer") != 0 {
		t.Errorf("a refused query counted as an outage: %+v", st)
	}
}
