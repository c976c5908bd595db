package authredis

import (
	"context"
	"testing"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/passhash"
)

// TestAuthenticate: EMQX's default auth_cmd with plain passwords. A stored user is allowed
// with its password and refused otherwise; a user Redis does not know and a client without a
// user name are ignored (allow_anonymous decides), the latter without asking Redis.
func TestAuthenticate(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	do(t, r, "HSET", "mqtt_user:auth-alice", "password", "secret-a")
	do(t, r, "HSET", "mqtt_user:auth-nopass", "is_superuser", "0")
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, true, acl.Allow, p)

	wantConnack(t, addr, "a1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr, "a2", "auth-alice", "wrong", rcBadCredentials)
	wantConnack(t, addr, "a3", "auth-alice", "", rcBadCredentials)
	wantConnack(t, addr, "a4", "auth-nobody", "whatever", rcSuccess) // ignored: anonymous allowed
	wantConnack(t, addr, "a5", "auth-nopass", "whatever", rcSuccess) // HMGET's nil: no such user
	before := p.Stats().Queries
	wantConnack(t, addr, "a6", "", "", rcSuccess)
	if got := p.Stats().Queries; got != before {
		t.Errorf("a client without a user name cost %d commands, want none", got-before)
	}

	// With anonymous clients refused, the ignored ones are refused too.
	p2, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	wantConnack(t, addr2, "b1", "auth-alice", "secret-a", rcSuccess)
	wantConnack(t, addr2, "b2", "auth-nobody", "whatever", rcBadCredentials)
}

// TestPasswordHash: a salted sha256 digest with the salt from HMGET's second field, and bcrypt.
func TestPasswordHash(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	salted := passhash.Spec{Algo: passhash.SHA256, Salt: passhash.Prefix}
	h, err := passhash.Hash(salted, []byte("pw-salted"), []byte("NaCl"))
	if err != nil {
		t.Fatal(err)
	}
	do(t, r, "HSET", "mqtt_user:hash-salted", "password", h, "salt", "NaCl")
	p, _ := newPlugin(t, s, func(c *Config) {
		c.AuthCmd = mustCommand(t, "HMGET mqtt_user:%u password salt")
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
	do(t, r, "HSET", "mqtt_user:hash-bcrypt", "password", hb)
	pb, _ := newPlugin(t, s, func(c *Config) { c.PasswordHash = bc })
	addrb := startNode(t, false, acl.Allow, pb)
	wantConnack(t, addrb, "h3", "hash-bcrypt", "pw-bcrypt", rcSuccess)
	wantConnack(t, addrb, "h4", "hash-bcrypt", "pw-other", rcBadCredentials)
}

// TestSuperuserAndACL: acl_cmd's hash with EMQX's access values (1 subscribe, 2 publish,
// 3 both) and %u/%c levels; a user with rows is denied what no row allows, a user without
// rows is left to acl_nomatch (deny here), and a superuser (super_cmd "1") skips the checks.
func TestSuperuserAndACL(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	do(t, r, "HSET", "mqtt_user:acl-root", "password", "pw", "is_superuser", "1")
	do(t, r, "HSET", "mqtt_user:acl-dev", "password", "pw", "is_superuser", "0")
	do(t, r, "HSET", "mqtt_user:acl-none", "password", "pw")
	do(t, r, "HSET", "mqtt_acl:acl-dev", "sensors/%u/#", "2", "cmd/%c", "1", "both/+", "3", "bad/#/x", "3")
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
		{"sensors/acl-dev", rcSuccess}, // "#" covers the parent level
		{"sensors/acl-other/temp", rcNotAuthorized},
		{"cmd/dev-1", rcNotAuthorized}, // subscribe only
		{"both/y", rcSuccess},
	} {
		if got := publishCode(t, dev, c.topic); got != c.want {
			t.Errorf("acl-dev publish %q: %#x, want %#x", c.topic, got, c.want)
		}
	}

	none, rc := connect(t, addr, "none-1", "acl-none", "pw")
	if none == nil {
		t.Fatalf("acl-none refused: %#x", rc)
	}
	if got := subscribeCode(t, none, "both/x"); got != rcNotAuthorized {
		t.Errorf("acl-none (no rows, acl_nomatch deny) subscribe: %#x, want %#x", got, rcNotAuthorized)
	}

	root, rc := connect(t, addr, "root-1", "acl-root", "pw")
	if root == nil {
		t.Fatalf("acl-root refused: %#x", rc)
	}
	before := p.Stats().Queries
	if got := subscribeCode(t, root, "sensors/#"); got != rcGrantedQoS1 {
		t.Errorf("superuser subscribe: %#x", got)
	}
	if got := publishCode(t, root, "anything/at/all"); got != rcSuccess {
		t.Errorf("superuser publish: %#x", got)
	}
	if got := p.Stats().Queries; got != before {
		t.Errorf("a superuser's requests cost %d commands, want none", got-before)
	}
}

// TestACLIgnored: a user without rows is left to acl_nomatch, here allow.
func TestACLIgnored(t *testing.T) {
	s := needRedis(t)
	do(t, s.client(t), "HSET", "mqtt_user:ign-user", "password", "pw")
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Allow, p)
	c, rc := connect(t, addr, "ign-1", "ign-user", "pw")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, c, "any/thing"); got != rcGrantedQoS1 {
		t.Errorf("subscribe: %#x, want granted (ignored, acl_nomatch allow)", got)
	}
}

// TestPlaceholders: %c, %u and %a substituted inside the words of a command.
func TestPlaceholders(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	do(t, r, "HSET", "dev:ph-7:ph-user", "pw:127.0.0.1", "pw-7")
	do(t, r, "HSET", "peer:127.0.0.1", "ph-user", "1")
	do(t, r, "HSET", "acl:ph-7", "t/ph-user/%c", "3")
	p, _ := newPlugin(t, s, func(c *Config) {
		c.AuthCmd = mustCommand(t, "HGET dev:%c:%u pw:%a")
		c.SuperCmd = mustCommand(t, "HGET peer:%a %u-admin")
		c.ACLCmd = mustCommand(t, "HGETALL acl:%c")
	})
	addr := startNode(t, false, acl.Deny, p)
	c, rc := connect(t, addr, "ph-7", "ph-user", "pw-7")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	wantConnack(t, addr, "ph-8", "ph-user", "pw-7", rcBadCredentials) // another client id: no such key
	if got := publishCode(t, c, "t/ph-user/ph-7"); got != rcSuccess {
		t.Errorf("publish by the %%c row: %#x", got)
	}
	if got := publishCode(t, c, "t/ph-user/ph-8"); got != rcNotAuthorized {
		t.Errorf("publish outside the %%c row: %#x", got)
	}
}

// TestInjection: a user name holding spaces, a RESP frame or a glob is one argument of the
// command. "acl-victim password" must not turn HMGET mqtt_user:%u password into a lookup of
// acl-victim's password twice (which would let its password in under another name), and a
// line break must not run a second command.
func TestInjection(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	do(t, r, "HSET", "mqtt_user:inj-victim", "password", "victim-pw")
	do(t, r, "SET", "inj-canary", "alive")
	p, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Allow, p)
	for i, name := range []string{
		"inj-victim password",
		"inj-victim\r\nFLUSHALL\r\n",
		"inj-victim password\r\n*1\r\n$8\r\nFLUSHALL\r\n",
		"inj-*",
	} {
		wantConnack(t, addr, "inj-"+string(rune('a'+i)), name, "victim-pw", rcBadCredentials)
	}
	if v, err := r.Get(context.Background(), "inj-canary").Result(); err != nil || v != "alive" {
		t.Errorf("canary key after the attempts: %q, %v", v, err)
	}
	wantConnack(t, addr, "inj-ok", "inj-victim", "victim-pw", rcSuccess)
}
