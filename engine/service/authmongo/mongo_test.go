package authmongo

import (
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
)

// TestAuthenticate: EMQX's default auth query with plain passwords. A stored user is allowed
// with its password and refused otherwise (and when its document has no password); a user the
// collection does not hold and a client without a user name are ignored (allow_anonymous
// decides), the latter without a query.
func TestAuthenticate(t *testing.T) {
	s := needFerret(t)
	s.Insert(t, "mqtt_user", bson.M{"username": "auth-alice", "password": "secret-a"}, bson.M{"username": "auth-nopass"})
	p, _, _ := newPlugin(t, s, nil)
	addr := startNode(t, true, acl.Allow, p)

	wantConnack(t, addr, "a1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr, "a2", "auth-alice", "wrong", rcBadCredentials)
	wantConnack(t, addr, "a3", "auth-alice", "", rcBadCredentials)
	wantConnack(t, addr, "a4", "auth-nobody", "whatever", rcSuccess) // ignored: anonymous allowed
	wantConnack(t, addr, "a5", "auth-nopass", "whatever", rcBadCredentials)
	before := p.Monitor().Get(backend.Queries)
	wantConnack(t, addr, "a6", "", "", rcSuccess)
	if got := p.Monitor().Get(backend.Queries); got != before {
		t.Errorf("a client without a user name cost %d queries, want none", got-before)
	}

	p2, _, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	wantConnack(t, addr2, "b1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr2, "b2", "auth-nobody", "whatever", rcBadCredentials)
}

// TestPasswordHash: salted sha256 with the salt in a second password field, and bcrypt.
func TestPasswordHash(t *testing.T) {
	s := needFerret(t)
	salted := passhash.Spec{Algo: passhash.SHA256, Salt: passhash.Suffix}
	h, err := passhash.Hash(salted, []byte("pw-salted"), []byte("NaCl"))
	if err != nil {
		t.Fatal(err)
	}
	bc := passhash.Spec{Algo: passhash.Bcrypt}
	hb, err := passhash.Hash(bc, []byte("pw-bcrypt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Insert(t, "mqtt_user", bson.M{"username": "hash-salted", "password": h, "salt": "NaCl"}, bson.M{"username": "hash-bcrypt", "password": hb})
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery.PasswordFields = []string{"password", "salt"}
		c.AuthQuery.PasswordHash = salted
	})
	addr := startNode(t, false, acl.Allow, p)
	wantConnack(t, addr, "h1", "hash-salted", "pw-salted", rcSuccess)
	wantConnack(t, addr, "h2", "hash-salted", "pw-saltedNaCl", rcBadCredentials)

	pb, _, _ := newPlugin(t, s, func(c *Config) { c.AuthQuery.PasswordHash = bc })
	addrb := startNode(t, false, acl.Allow, pb)
	wantConnack(t, addrb, "h3", "hash-bcrypt", "pw-bcrypt", rcSuccess)
	wantConnack(t, addrb, "h4", "hash-bcrypt", "pw-other", rcBadCredentials)
}

// TestSuperuserAndACL: EMQX's mqtt_acl documents (publish, subscribe and pubsub arrays, %u and
// %c levels); a user with a document is denied what none of its filters allows, a user without
// one is left to acl_nomatch (deny here), and a superuser (is_superuser true) skips the checks.
func TestSuperuserAndACL(t *testing.T) {
	s := needFerret(t)
	s.Insert(t, "mqtt_user",
		bson.M{"username": "acl-root", "password": "pw", "is_superuser": true},
		bson.M{"username": "acl-dev", "password": "pw", "is_superuser": false},
		bson.M{"username": "acl-none", "password": "pw"})
	s.Insert(t, "mqtt_acl",
		bson.M{"username": "acl-dev", "publish": bson.A{"sensors/%u/#"}, "subscribe": bson.A{"cmd/%c", "bad/#/x"}, "pubsub": bson.A{"both/+"}},
		bson.M{"username": "$all", "subscribe": bson.A{"public/#"}})
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.ACLQuery.Selectors = []Selector{mustSelector(t, "username=%u"), mustSelector(t, "username=$all")}
	})
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
		{"cmd/+", rcNotAuthorized},
		{"sensors/acl-dev/t", rcNotAuthorized}, // publish only
		{"both/x", rcGrantedQoS1},
		{"both/x/y", rcNotAuthorized},
		{"public/news", rcGrantedQoS1}, // the $all document, by the second selector
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
		{"both/y", rcSuccess},
	} {
		if got := publishCode(t, dev, c.topic); got != c.want {
			t.Errorf("acl-dev publish %q: %#x, want %#x", c.topic, got, c.want)
		}
	}

	root, rc := connect(t, addr, "root-1", "acl-root", "pw")
	if root == nil {
		t.Fatalf("acl-root refused: %#x", rc)
	}
	before := p.Monitor().Get(backend.Queries)
	if got := subscribeCode(t, root, "sensors/#"); got != rcGrantedQoS1 {
		t.Errorf("superuser subscribe: %#x", got)
	}
	if got := publishCode(t, root, "anything/at/all"); got != rcSuccess {
		t.Errorf("superuser publish: %#x", got)
	}
	if got := p.Monitor().Get(backend.Queries); got != before {
		t.Errorf("a superuser's requests cost %d queries, want none", got-before)
	}

	// Only the username=%u selector: acl-none has no document and is left to acl_nomatch.
	p2, _, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Deny, p2)
	none, rc := connect(t, addr2, "none-1", "acl-none", "pw")
	if none == nil {
		t.Fatalf("acl-none refused: %#x", rc)
	}
	if got := subscribeCode(t, none, "both/x"); got != rcNotAuthorized {
		t.Errorf("acl-none (no document, acl_nomatch deny) subscribe: %#x, want %#x", got, rcNotAuthorized)
	}
	p3, _, _ := newPlugin(t, s, nil)
	addr3 := startNode(t, false, acl.Allow, p3)
	none3, rc := connect(t, addr3, "none-3", "acl-none", "pw")
	if none3 == nil {
		t.Fatalf("acl-none refused: %#x", rc)
	}
	if got := subscribeCode(t, none3, "both/x"); got != rcGrantedQoS1 {
		t.Errorf("acl-none (no document, acl_nomatch allow) subscribe: %#x, want granted", got)
	}
}

// TestPlaceholders: a selector of several fields with %u and %c.
func TestPlaceholders(t *testing.T) {
	s := needFerret(t)
	s.Insert(t, "mqtt_user", bson.M{"username": "ph-user", "clientid": "ph-7", "password": "pw-7"})
	s.Insert(t, "mqtt_acl", bson.M{"clientid": "ph-7", "publish": "t/%u/%c"})
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.AuthQuery.Selector = mustSelector(t, "username=%u, clientid=%c")
		c.ACLQuery.Selectors = []Selector{mustSelector(t, "clientid=%c")}
	})
	addr := startNode(t, false, acl.Deny, p)
	c, rc := connect(t, addr, "ph-7", "ph-user", "pw-7")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	wantConnack(t, addr, "ph-8", "ph-user", "pw-7", rcBadCredentials) // another client id: no document
	if got := publishCode(t, c, "t/ph-user/ph-7"); got != rcSuccess {
		t.Errorf("publish by the %%u/%%c filter: %#x", got)
	}
	if got := publishCode(t, c, "t/ph-user/ph-8"); got != rcNotAuthorized {
		t.Errorf("publish outside the %%c filter: %#x", got)
	}
}

// TestInjection: user names that look like query operators, JSON or LDAP filters are string
// values of the selector: they find no document, so the victim's password does not let them in.
func TestInjection(t *testing.T) {
	s := needFerret(t)
	s.Insert(t, "mqtt_user", bson.M{"username": "inj-victim", "password": "victim-pw"})
	p, _, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Allow, p)
	for i, name := range []string{`{"$ne": null}`, `{"$gt": ""}`, "$ne", "*)(uid=*", "' or 1=1 --", "inj-victim\", \"$or\": [{}]"} {
		wantConnack(t, addr, "inj-"+string(rune('a'+i)), name, "victim-pw", rcBadCredentials)
	}
	wantConnack(t, addr, "inj-ok", "inj-victim", "victim-pw", rcSuccess)
}

// TestParseSelector: EMQX's forms, and what is refused.
func TestParseSelector(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"username=%u", "username=%u", true},
		{"username=%u, clientid=%c", "username=%u, clientid=%c", true},
		{"username=$all", "username=$all", true},
		{"", "", false},
		{"username", "", false},
		{"=x", "", false},
	} {
		sel, err := ParseSelector(c.in)
		if (err == nil) != c.ok || c.ok && sel.String() != c.want {
			t.Errorf("ParseSelector(%q) = %q, %v", c.in, sel.String(), err)
		}
	}
}

// TestTLS: the plugin reaches the server over TLS, verifying its certificate; a plugin that
// does not trust the server's CA refuses clients as "server unavailable".
func TestTLS(t *testing.T) {
	s := needFerret(t)
	s.Insert(t, "mqtt_user", bson.M{"username": "tls-user", "password": "pw-tls"})
	tlsAddr := "127.0.0.1:" + strconv.Itoa(s.TLSPort)
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.Servers = []string{tlsAddr}
		c.TLS = s.TLSConfig()
	})
	addr := startNode(t, false, acl.Allow, p)
	wantConnack(t, addr, "tls-1", "tls-user", "pw-tls", rcSuccess)
	wantConnack(t, addr, "tls-2", "tls-user", "nope", rcBadCredentials)

	untrusting, _, _ := newPlugin(t, s, func(c *Config) {
		c.Servers = []string{tlsAddr}
		c.TLS = s.TLSConfig()
		c.TLS.RootCAs = nil // the system's roots: the test CA is not among them
		c.QueryTimeout = 500 * time.Millisecond
	})
	addr2 := startNode(t, false, acl.Allow, untrusting)
	wantConnack(t, addr2, "tls-3", "tls-user", "pw-tls", rcUnavailable)
}
