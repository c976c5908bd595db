package authpgsql

import (
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/passhash"
)

// TestAuthenticate: EMQX's default auth_query with plain passwords. A stored user is allowed
// with its password and refused otherwise; a user the table does not hold and a client
// without a user name are ignored (allow_anonymous decides), the latter without a query.
func TestAuthenticate(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "INSERT INTO mqtt_user (username, password) VALUES ('auth-alice', 'secret-a'), ('auth-null', NULL)")
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, true, acl.Allow, p)

	wantConnack(t, addr, "a1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr, "a2", "auth-alice", "wrong", rcBadCredentials)
	wantConnack(t, addr, "a3", "auth-alice", "", rcBadCredentials)
	wantConnack(t, addr, "a4", "auth-nobody", "whatever", rcSuccess) // ignored: anonymous allowed
	wantConnack(t, addr, "a5", "auth-null", "whatever", rcBadCredentials)
	before := p.Stats().Queries
	wantConnack(t, addr, "a6", "", "", rcSuccess)
	if got := p.Stats().Queries; got != before {
		t.Errorf("a client without a user name cost %d queries, want none", got-before)
	}

	// With anonymous clients refused, the ignored ones are refused too.
	p2, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	wantConnack(t, addr2, "b1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr2, "b2", "auth-nobody", "whatever", rcBadCredentials)
}

// TestPasswordHash: a salted sha256 digest with the salt from the query's second column
// (EMQX's mqtt_user.salt), and bcrypt.
func TestPasswordHash(t *testing.T) {
	s := needPG(t)
	salted := passhash.Spec{Algo: passhash.SHA256, Salt: passhash.Prefix}
	h, err := passhash.Hash(salted, []byte("pw-salted"), []byte("NaCl"))
	if err != nil {
		t.Fatal(err)
	}
	s.mustExec(t, "INSERT INTO mqtt_user (username, password, salt) VALUES ('hash-salted', $1, 'NaCl')", h)
	p, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery = mustQuery(t, "select password, salt from mqtt_user where username = '%u' limit 1")
		c.PasswordHash = salted
	})
	addr := startNode(t, false, acl.Allow, p)
	wantConnack(t, addr, "h1", "hash-salted", "pw-salted", rcSuccess)
	wantConnack(t, addr, "h2", "hash-salted", "NaClpw-salted", rcBadCredentials)

	bc := passhash.Spec{Algo: passhash.Bcrypt}
	hb, err := passhash.Hash(bc, []byte("pw-bcrypt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.mustExec(t, "INSERT INTO mqtt_user (username, password) VALUES ('hash-bcrypt', $1)", hb)
	pb, _ := newPlugin(t, s, func(c *Config) { c.PasswordHash = bc })
	addrb := startNode(t, false, acl.Allow, pb)
	wantConnack(t, addrb, "h3", "hash-bcrypt", "pw-bcrypt", rcSuccess)
	wantConnack(t, addrb, "h4", "hash-bcrypt", "pw-other", rcBadCredentials)
}

// aclTable creates a table of mqtt_acl's shape holding rows (SQL VALUES tuples of allow,
// ipaddr, username, clientid, access, topic) and returns EMQX's default acl_query over it,
// ordered by id so that the first matching row is known.
func aclTable(t *testing.T, s *pgServer, name, rows string) Query {
	t.Helper()
	s.mustExec(t, "DROP TABLE IF EXISTS "+name) // left by an earlier run of the test (-count)
	s.mustExec(t, "CREATE TABLE "+name+" (LIKE mqtt_acl INCLUDING ALL)")
	s.mustExec(t, "INSERT INTO "+name+" (allow, ipaddr, username, clientid, access, topic) VALUES "+rows)
	return mustQuery(t, strings.Replace(defaultACLQuery, "from mqtt_acl", "from "+name, 1)+" order by id")
}

// TestSuperuserAndACL: EMQX's mqtt_acl rows (allow 1/0; access 1 subscribe, 2 publish,
// 3 both; who by username, client id, address, '$all' or several at once; %u/%c levels;
// "eq" topics). The first matching row decides; no matching row is ignored, so acl_nomatch
// decides (deny on one node, allow on the other, to tell row decisions from it). A superuser
// (super_query true) skips the checks.
func TestSuperuserAndACL(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "INSERT INTO mqtt_user (username, password, is_superuser) VALUES ('acl-root', 'pw', true), ('acl-dev', 'pw', false), ('acl-none', 'pw', NULL)")
	q := aclTable(t, s, "acl_main", `
		(1, NULL, 'acl-dev', NULL, 2, 'sensors/%u/#'),
		(1, NULL, NULL, 'dev-1', 1, 'cmd/%c'),
		(0, NULL, 'acl-dev', NULL, 3, 'secret/#'),
		(1, NULL, 'acl-dev', NULL, 3, 'secret/open'),
		(1, '127.0.0.1', NULL, NULL, 1, 'local/#'),
		(1, '10.0.0.0/8', 'acl-dev', NULL, 3, 'net/#'),
		(1, '127.0.0.0/8', 'acl-dev', 'dev-1', 3, 'both/+'),
		(0, NULL, '$all', NULL, 1, 'eq #'),
		(1, NULL, '$all', NULL, 2, 'pub/all')`)
	mod := func(c *Config) { c.ACLQuery = q }

	// acl_nomatch deny: what is allowed, a row allowed.
	p, _ := newPlugin(t, s, mod)
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
		{"local/x", rcGrantedQoS1},             // by address
		{"net/x", rcNotAuthorized},             // address and user: the address differs
		{"both/x", rcGrantedQoS1},              // address, user and client id all match
		{"sensors/acl-dev/t", rcNotAuthorized}, // publish only
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
		{"sensors/acl-other/temp", rcNotAuthorized},
		{"cmd/dev-1", rcNotAuthorized}, // subscribe only
		{"pub/all", rcSuccess},         // '$all'
		{"secret/open", rcNotAuthorized},
	} {
		if got := publishCode(t, dev, c.topic); got != c.want {
			t.Errorf("acl-dev publish %q: %#x, want %#x", c.topic, got, c.want)
		}
	}
	none, rc := connect(t, addr, "none-1", "acl-none", "pw")
	if none == nil {
		t.Fatalf("acl-none refused: %#x", rc)
	}
	if got := publishCode(t, none, "pub/all"); got != rcSuccess {
		t.Errorf("acl-none publish pub/all ('$all'): %#x", got)
	}
	if got := publishCode(t, none, "sensors/acl-none/t"); got != rcNotAuthorized {
		t.Errorf("acl-none publish another user's row: %#x", got)
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

	// acl_nomatch allow: what is denied, a row denied; the rest is ignored.
	p2, _ := newPlugin(t, s, mod)
	addr2 := startNode(t, false, acl.Allow, p2)
	dev2, rc := connect(t, addr2, "dev-1", "acl-dev", "pw")
	if dev2 == nil {
		t.Fatalf("acl-dev refused: %#x", rc)
	}
	for _, c := range []struct {
		topic string
		want  byte
	}{
		{"secret/open", rcNotAuthorized}, // the deny row comes first
		{"secret/x/y", rcNotAuthorized},
		{"other/topic", rcSuccess}, // no row matches: ignored
	} {
		if got := publishCode(t, dev2, c.topic); got != c.want {
			t.Errorf("acl-dev publish %q (nomatch allow): %#x, want %#x", c.topic, got, c.want)
		}
	}
	if got := subscribeCode(t, dev2, "#"); got != rcNotAuthorized {
		t.Errorf("subscribe to # ('$all' eq # deny row): %#x", got)
	}
	if got := subscribeCode(t, dev2, "x/#"); got != rcGrantedQoS1 {
		t.Errorf("subscribe x/# (eq # is literal): %#x", got)
	}
}

// TestACLIgnored: a client no row names is left to acl_nomatch; a row of the wrong shape
// denies rather than being skipped.
func TestACLIgnored(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "INSERT INTO mqtt_user (username, password) VALUES ('ign-user', 'pw'), ('bad-row', 'pw')")
	q := aclTable(t, s, "acl_ign", `(1, NULL, 'someone-else', NULL, 3, '#'), (7, NULL, 'bad-row', NULL, 3, 'x')`)
	p, rec := newPlugin(t, s, func(c *Config) { c.ACLQuery = q })
	addr := startNode(t, false, acl.Allow, p)
	c, rc := connect(t, addr, "ign-1", "ign-user", "pw")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, c, "any/thing"); got != rcGrantedQoS1 {
		t.Errorf("subscribe: %#x, want granted (ignored, acl_nomatch allow)", got)
	}
	b, rc := connect(t, addr, "bad-1", "bad-row", "pw")
	if b == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, b, "any/thing"); got != rcNotAuthorized {
		t.Errorf("subscribe with an allow = 7 row: %#x, want denied", got)
	}
	if rec.Count("access denied: acl_query") == 0 {
		t.Error("the malformed row was not logged")
	}
}

// TestPlaceholders: %c, %u (bare and quoted, used twice: one parameter) and %a bound in
// custom queries over custom tables.
func TestPlaceholders(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "DROP TABLE IF EXISTS devices")
	s.mustExec(t, "CREATE TABLE devices (clientid text, owner text, peer text, secret text, admin boolean)")
	s.mustExec(t, "INSERT INTO devices VALUES ('ph-7', 'ph-user', '127.0.0.1', 'pw-7', true), ('ph-9', 'ph-user', '10.0.0.1', 'pw-9', false)")
	q := aclTable(t, s, "acl_ph", `(1, NULL, 'ph-user', NULL, 3, 't/%u/%c')`)
	p, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery = mustQuery(t, "select secret from devices where clientid = '%c' and owner = %u and peer = '%a' and owner = '%u'")
		c.SuperQuery = mustQuery(t, "select admin and clientid = 'ph-7' from devices where peer = %a and clientid = '%c'")
		c.ACLQuery = q
	})
	addr := startNode(t, false, acl.Deny, p)
	wantConnack(t, addr, "ph-9", "ph-user", "pw-9", rcBadCredentials) // its peer is not 127.0.0.1: no row
	wantConnack(t, addr, "ph-8", "ph-user", "pw-7", rcBadCredentials) // another client id: no row
	c, rc := connect(t, addr, "ph-7", "ph-user", "pw-7")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	// super_query: ph-7 from 127.0.0.1 is an admin, so even a topic no row allows is open.
	if got := publishCode(t, c, "t/ph-user/ph-8"); got != rcSuccess {
		t.Errorf("superuser by %%a and %%c: publish %#x", got)
	}
}

// TestInjection: a user name that would rewrite a spliced query (' or 1=1 --, a closing quote
// and a second statement) is a bound value: it names no row, logs no one in as another user,
// matches no ACL row of another user, and runs nothing.
func TestInjection(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "INSERT INTO mqtt_user (username, password) VALUES ('inj-victim', 'victim-pw')")
	q := aclTable(t, s, "acl_inj", `(1, NULL, 'inj-victim', NULL, 3, 'victim/#')`)
	p, _ := newPlugin(t, s, func(c *Config) { c.ACLQuery = q })
	addr := startNode(t, false, acl.Deny, p)
	for i, name := range []string{
		"' or 1=1 --",
		"' or '1'='1",
		"inj-victim' --",
		"x'; DROP TABLE mqtt_user; --",
		`inj-victim\' or 1=1 --`,
	} {
		wantConnack(t, addr, "inj-"+string(rune('a'+i)), name, "victim-pw", rcBadCredentials)
	}
	wantConnack(t, addr, "inj-ok", "inj-victim", "victim-pw", rcSuccess) // the table is still there

	// The ACL query: an anonymous-allowed client named "' or 1=1 --" gets no one's rows.
	p2, _ := newPlugin(t, s, func(c *Config) { c.AuthQuery = Query{}; c.ACLQuery = q })
	addr2 := startNode(t, true, acl.Deny, p2)
	c, rc := connect(t, addr2, "inj-acl", "' or 1=1 --", "x")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, c, "victim/x"); got != rcNotAuthorized {
		t.Errorf("injected user name subscribe to another user's topic: %#x, want denied", got)
	}
}
