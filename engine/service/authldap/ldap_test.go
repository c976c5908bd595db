package authldap

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
)

// Stored password values as directories write them.
func shaValue(pw string) string {
	d := sha1.Sum([]byte(pw))
	return "{SHA}" + base64.StdEncoding.EncodeToString(d[:])
}

func sshaValue(pw, salt string) string {
	d := sha1.Sum([]byte(pw + salt))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(d[:], salt...))
}

func md5Value(pw string) string {
	d := md5.Sum([]byte(pw))
	return "{MD5}" + base64.StdEncoding.EncodeToString(d[:])
}

func ssha256Value(pw, salt string) string {
	d := sha256.Sum256([]byte(pw + salt))
	return "{SSHA256}" + base64.StdEncoding.EncodeToString(append(d[:], salt...))
}

// TestAuthenticate: entries with each password scheme are allowed with their password and
// refused otherwise; an unknown user, a client without a user name and an entry without a
// password are ignored (allow_anonymous decides); a disabled entry is refused as not
// authorized; an entry of another object class is not a client.
func TestAuthenticate(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "auth-sha", map[string][]string{"userPassword": {shaValue("pw-sha")}})
	s.AddDevice(t, "auth-ssha", map[string][]string{"userPassword": {sshaValue("pw-ssha", "s4lt")}})
	s.AddDevice(t, "auth-md5", map[string][]string{"userPassword": {md5Value("pw-md5")}})
	s.AddDevice(t, "auth-ssha256", map[string][]string{"userPassword": {ssha256Value("pw-256", "NaCl")}})
	s.AddDevice(t, "auth-plain", map[string][]string{"userPassword": {"pw-plain"}})
	s.AddDevice(t, "auth-b64", map[string][]string{"userPassword": {base64.StdEncoding.EncodeToString([]byte(shaValue("pw-b64")))}})
	s.AddDevice(t, "auth-off", map[string][]string{"userPassword": {"pw-off"}, "isEnabled": {"FALSE"}})
	s.AddDevice(t, "auth-on", map[string][]string{"userPassword": {"pw-on"}, "isEnabled": {"TRUE"}})
	s.AddDevice(t, "auth-nopw", nil)
	s.Add(t, "uid=auth-other,"+deviceDN, map[string][]string{"objectClass": {"mqttDevice", "mqttSecurity"}, "uid": {"auth-other"}, "userPassword": {"pw-other"}}, nil)
	p, _, _ := newPlugin(t, s, nil)
	addr := startNode(t, true, acl.Allow, p)

	for _, c := range []struct{ user, pass string }{
		{"auth-sha", "pw-sha"}, {"auth-ssha", "pw-ssha"}, {"auth-md5", "pw-md5"}, {"auth-ssha256", "pw-256"},
		{"auth-plain", "pw-plain"}, {"auth-b64", "pw-b64"}, {"auth-on", "pw-on"},
	} {
		wantConnack(t, addr, "ok-"+c.user, c.user, c.pass, rcSuccess)
		wantConnack(t, addr, "bad-"+c.user, c.user, c.pass+"x", rcBadCredentials)
	}
	wantConnack(t, addr, "a1", "auth-sha", "", rcBadCredentials)
	wantConnack(t, addr, "a2", "auth-off", "pw-off", rcNotAuthorized)
	wantConnack(t, addr, "a3", "auth-nobody", "whatever", rcSuccess) // ignored: anonymous allowed
	wantConnack(t, addr, "a4", "auth-nopw", "whatever", rcSuccess)   // no password attribute: ignored
	wantConnack(t, addr, "a5", "auth-other", "pw-other", rcSuccess)  // not an mqttUser: ignored
	before := p.Monitor().Get(backend.Queries)
	wantConnack(t, addr, "a6", "", "", rcSuccess)
	if got := p.Monitor().Get(backend.Queries); got != before {
		t.Errorf("a client without a user name cost %d searches, want none", got-before)
	}

	// With anonymous clients refused, the ignored ones are refused too.
	p2, _, _ := newPlugin(t, s, nil)
	addr2 := startNode(t, false, acl.Allow, p2)
	wantConnack(t, addr2, "b1", "auth-sha", "pw-sha", rcSuccess)
	wantConnack(t, addr2, "b2", "auth-nobody", "whatever", rcBadCredentials)
	wantConnack(t, addr2, "b3", "auth-other", "pw-other", rcBadCredentials)
}

// TestSuperuserAndACL: an entry's mqttPublishTopic, mqttSubscriptionTopic and mqttPubSubTopic
// values allow what they match; what none matches is left to acl_nomatch (deny here), as is a
// user whose entry lists no topics; a superuser (isSuperuser TRUE) skips the checks.
func TestSuperuserAndACL(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "acl-root", map[string][]string{"userPassword": {"pw"}, "isSuperuser": {"TRUE"}})
	s.AddDevice(t, "acl-dev", map[string][]string{
		"userPassword":          {"pw"},
		"isSuperuser":           {"FALSE"},
		"mqttPublishTopic":      {"sensors/%u/#"},
		"mqttSubscriptionTopic": {"cmd/%c", "bad/#/x"},
		"mqttPubSubTopic":       {"both/+"},
	})
	s.AddDevice(t, "acl-none", map[string][]string{"userPassword": {"pw"}})
	p, _, _ := newPlugin(t, s, nil)
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
		{"cmd/+", rcNotAuthorized},             // a literal level does not cover the request's wildcard
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
		t.Errorf("acl-none (no topics, acl_nomatch deny) subscribe: %#x, want %#x", got, rcNotAuthorized)
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
		t.Errorf("a superuser's requests cost %d searches, want none", got-before)
	}

	// Without the superuser attribute configured (EMQX's plugin), isSuperuser means nothing.
	p2, _, _ := newPlugin(t, s, func(c *Config) { c.SuperuserAttr = "" })
	addr2 := startNode(t, false, acl.Deny, p2)
	root2, rc := connect(t, addr2, "root-2", "acl-root", "pw")
	if root2 == nil {
		t.Fatalf("acl-root refused: %#x", rc)
	}
	if got := subscribeCode(t, root2, "sensors/#"); got != rcNotAuthorized {
		t.Errorf("acl-root without superuser attribute subscribe: %#x, want %#x", got, rcNotAuthorized)
	}
}

// TestACLIgnored: a user without topics is left to acl_nomatch, here allow; so is one whose
// topics do not match (EMQX's rule: the LDAP ACL only allows).
func TestACLIgnored(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "ign-user", map[string][]string{"userPassword": {"pw"}, "mqttPublishTopic": {"only/this"}})
	p, _, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Allow, p)
	c, rc := connect(t, addr, "ign-1", "ign-user", "pw")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := subscribeCode(t, c, "any/thing"); got != rcGrantedQoS1 {
		t.Errorf("subscribe: %#x, want granted (ignored, acl_nomatch allow)", got)
	}
	if got := publishCode(t, c, "other/topic"); got != rcSuccess {
		t.Errorf("publish: %#x, want success (ignored, acl_nomatch allow)", got)
	}
	if got := p.Monitor().Get(backend.Queries); got < 3 {
		t.Errorf("%d searches, want at least 3 (connect, subscribe, publish)", got)
	}
}

// TestPlaceholders: the entry is found under username.attributetype (cn here) in device_dn,
// and %u and %c levels of its topics are the client's.
func TestPlaceholders(t *testing.T) {
	s := needSlapd(t)
	s.Add(t, "ou=people,"+suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}, nil)
	s.Add(t, "cn=Ph User,ou=people,"+suffix, map[string][]string{
		"objectClass": {"person", "mqttUser"}, "cn": {"Ph User"}, "sn": {"User"}, "userPassword": {"pw-ph"},
		"mqttPubSubTopic": {"t/%u/%c"},
	}, nil)
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.UsernameAttr = "cn"
		c.DeviceDN = "ou=people," + suffix
	})
	addr := startNode(t, false, acl.Deny, p)
	c, rc := connect(t, addr, "ph-7", "Ph User", "pw-ph")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	wantConnack(t, addr, "ph-8", "Ph User", "pw-other", rcBadCredentials)
	if got := publishCode(t, c, "t/Ph User/ph-7"); got != rcSuccess {
		t.Errorf("publish by the %%u/%%c filter: %#x", got)
	}
	if got := publishCode(t, c, "t/Ph User/ph-8"); got != rcNotAuthorized {
		t.Errorf("publish outside the %%c filter: %#x", got)
	}
}

// TestInjection: user names that would widen a filter or name another entry if they were
// spliced into the search are one DN value: they find no entry, so the victim's password does
// not let them in under another name. (The directory's own matching rule for uid ignores case
// and surrounding spaces: " INJ-VICTIM" is the same entry, as for any LDAP client.)
func TestInjection(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "inj-victim", map[string][]string{"userPassword": {"victim-pw"}, "mqttPubSubTopic": {"#"}})
	p, _, _ := newPlugin(t, s, nil)
	addr := startNode(t, false, acl.Deny, p)
	for i, name := range []string{
		"*)(uid=*",
		"*",
		"inj-victim,ou=device",
		"inj-victim," + deviceDN,
		"inj-victim)(objectClass=*",
		"x,uid=inj-victim",
		"inj-victim+cn=x",
		"inj-victim\\",
	} {
		wantConnack(t, addr, "inj-"+string(rune('a'+i)), name, "victim-pw", rcBadCredentials)
	}
	wantConnack(t, addr, "inj-ok", "inj-victim", "victim-pw", rcSuccess)
	if p.Monitor().Get(backend.Errors) != 0 {
		t.Errorf("%d searches failed: a user name reached the directory as syntax", p.Monitor().Get(backend.Errors))
	}
}

// TestTLS: the plugin reaches the directory over LDAPS, verifying its certificate; a plugin
// that does not trust the server's CA refuses clients as "server unavailable".
func TestTLS(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "tls-user", map[string][]string{"userPassword": {shaValue("pw-tls")}})
	p, _, _ := newPlugin(t, s, func(c *Config) {
		c.Servers = []string{"127.0.0.1"}
		c.Port = s.TLSPort
		c.TLS = s.TLSConfig()
	})
	addr := startNode(t, false, acl.Allow, p)
	wantConnack(t, addr, "tls-1", "tls-user", "pw-tls", rcSuccess)
	wantConnack(t, addr, "tls-2", "tls-user", "nope", rcBadCredentials)

	untrusting, _, _ := newPlugin(t, s, func(c *Config) {
		c.Servers = []string{"127.0.0.1"}
		c.Port = s.TLSPort
		c.TLS = s.TLSConfig()
		c.TLS.RootCAs = nil // the system's roots: the test CA is not among them
	})
	addr2 := startNode(t, false, acl.Allow, untrusting)
	wantConnack(t, addr2, "tls-3", "tls-user", "pw-tls", rcUnavailable)
}

// TestBindAsUser: the password is checked by a bind as the entry, so any scheme the directory
// knows works and the plugin never reads the password; the pooled connection is bound back
// to the plugin's account afterwards (the next client's search still sees every entry).
func TestBindAsUser(t *testing.T) {
	s := needSlapd(t)
	s.AddDevice(t, "bind-user", map[string][]string{"userPassword": {sshaValue("pw-bind", "xy")}, "mqttPublishTopic": {"b/#"}})
	p, _, _ := newPlugin(t, s, func(c *Config) { c.BindAsUser = true; c.Pool = 1 })
	addr := startNode(t, false, acl.Deny, p)
	wantConnack(t, addr, "bind-1", "bind-user", "pw-bind-wrong", rcBadCredentials)
	c, rc := connect(t, addr, "bind-2", "bind-user", "pw-bind")
	if c == nil {
		t.Fatalf("refused: %#x", rc)
	}
	if got := publishCode(t, c, "b/1"); got != rcSuccess {
		t.Errorf("publish after a bind as the user: %#x", got)
	}
	wantConnack(t, addr, "bind-3", "bind-nobody", "x", rcBadCredentials)
}

// TestPasswordSchemes: checkPassword on each scheme, and malformed values.
func TestPasswordSchemes(t *testing.T) {
	f := func(stored, pw string, ok bool) {
		t.Helper()
		if err := checkPassword(stored, []byte(pw)); (err == nil) != ok {
			t.Errorf("checkPassword(%q, %q) = %v, want ok=%v", stored, pw, err, ok)
		}
	}
	f(shaValue("a"), "a", true)
	f(shaValue("a"), "b", false)
	f("{sha}"+shaValue("a")[5:], "a", true) // the scheme is case-insensitive
	f(sshaValue("a", "salt"), "a", true)
	f(sshaValue("a", "salt"), "asalt", false)
	f(md5Value("a"), "a", true)
	f(ssha256Value("a", "s"), "a", true)
	f("{CLEARTEXT}a", "a", true)
	f("a", "a", true)
	f("a", "", false)
	f("{SHA}!!!", "a", false)
	f("{SHA}"+base64.StdEncoding.EncodeToString([]byte("short")), "a", false)
	f("{CRYPT}abc", "abc", false)
	// EMQX's example directory: mqttuser0001's value, base64 of "{SHA}...".
	f("e1NIQX1tbGIzZmF0NDBNS0JUWFVWWndDS21MNzNSLzA9", "mqttuser0001", true)
}

// TestEscapeDN: a user name stays one DN value, and the directory reads it back as it was.
func TestEscapeDN(t *testing.T) {
	for _, name := range []string{"a,b", "a+b", "#a", " a ", `a\b`, "a=b", "a\"b<c>;", "é"} {
		dn, err := ldap.ParseDN("uid=" + escapeDN(name) + "," + deviceDN)
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if len(dn.RDNs) != 4 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != name {
			t.Errorf("%q: parsed as %v", name, dn)
		}
	}
}
