package plugins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsernamePlugin: configured and run-time users allow, a wrong password denies, an
// unknown user is ignored (allow_anonymous decides); the store keeps hashes only and survives
// a restart together with data/loaded_plugins.
func TestUsernamePlugin(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__USER__1__USERNAME=admin", "EMQX_AUTH__USER__1__PASSWORD=public")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_username"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "c1", "admin", "public", nil)
	wantConnect(t, n, "c2", "admin", "wrong", errBadCreds)
	wantConnect(t, n, "c3", "admin", "", errBadCreds)
	wantConnect(t, n, "c4", "stranger", "x", nil) // ignored: allow_anonymous = true

	users := m.Commands()["users"]
	if out, code := users([]string{"add", "bob", "s3cret"}); code != 0 || out != "ok\n" {
		t.Fatalf("users add: %d %q", code, out)
	}
	if out, code := users([]string{"add", "bob", "again"}); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("users add twice: %d %q", code, out)
	}
	wantConnect(t, n, "c5", "bob", "s3cret", nil)
	if out, code := users([]string{"update", "bob", "n3w"}); code != 0 || out != "ok\n" {
		t.Fatalf("users update: %d %q", code, out)
	}
	wantConnect(t, n, "c6", "bob", "s3cret", errBadCreds)
	wantConnect(t, n, "c7", "bob", "n3w", nil)
	if out, code := users([]string{"list"}); code != 0 || out != "admin\nbob\n" {
		t.Errorf("users list: %d %q", code, out)
	}
	if out, code := users([]string{"del", "nobody"}); code == 0 || !strings.Contains(out, "not found") {
		t.Errorf("users del nobody: %d %q", code, out)
	}
	if out, code := users([]string{"add", "x"}); code == 0 || !strings.Contains(out, "users add <Username> <Password>") {
		t.Errorf("users add without password: %d, want usage: %q", code, out)
	}
	data, err := os.ReadFile(filepath.Join(e.DataDir, "auth_username.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "n3w") || strings.Contains(string(data), "public") || !strings.Contains(string(data), "salt,sha256") {
		t.Errorf("the store must hold salted sha256 hashes only:\n%s", data)
	}

	// A new node on the same home: data/loaded_plugins loads the plugin, the store keeps bob.
	n2 := startNode(t, false)
	m2 := New(n2, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m2.Start(""); err != nil {
		t.Fatal(err)
	}
	if got := m2.Loaded(); len(got) != 1 || got[0] != "emqx_auth_username" {
		t.Fatalf("after restart loaded %v, want [emqx_auth_username]", got)
	}
	wantConnect(t, n2, "d1", "bob", "n3w", nil)
	wantConnect(t, n2, "d2", "stranger", "x", errBadCreds) // ignored, and anonymous is off
	wantConnect(t, n2, "d3", "", "", errNotAuthorize)

	// Unloaded: the chain is empty again and the file says so.
	if out, code := m2.Commands()["plugins"]([]string{"unload", "emqx_auth_username"}); code != 0 || out != "Plugin emqx_auth_username unloaded successfully.\n" {
		t.Fatalf("unload: %d %q", code, out)
	}
	wantConnect(t, n2, "d4", "bob", "n3w", errBadCreds)
	if b, _ := os.ReadFile(filepath.Join(e.DataDir, "loaded_plugins")); string(b) != "{emqx_auth_username, false}.\n" {
		t.Errorf("loaded_plugins after unload: %q", b)
	}
	if out, code := m2.Commands()["users"]([]string{"list"}); code == 0 || !strings.Contains(out, "not loaded") {
		t.Errorf("users with the plugin unloaded: %d %q", code, out)
	}
}

// TestClientIDPluginBcrypt: emqx_auth_clientid from its own file with bcrypt.
func TestClientIDPluginBcrypt(t *testing.T) {
	n := startNode(t, false)
	e := testEnv(t)
	writePluginConf(t, e, "emqx_auth_clientid", "auth.client.1.clientid = dev-1\nauth.client.1.password = pw1\nauth.client.password_hash = bcrypt\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if out, code := m.Commands()["plugins"]([]string{"load", "emqx_auth_clientid"}); code != 0 || out != "Plugin emqx_auth_clientid loaded successfully.\n" {
		t.Fatalf("load: %d %q", code, out)
	}
	wantConnect(t, n, "dev-1", "anyone", "pw1", nil)
	wantConnect(t, n, "dev-1", "anyone", "pw2", errBadCreds)
	wantConnect(t, n, "dev-2", "anyone", "pw1", errBadCreds) // ignored; anonymous is off and a user name was given
	if out, code := m.Commands()["clientid"]([]string{"add", "dev-2", "pw2"}); code != 0 {
		t.Fatalf("clientid add: %d %q", code, out)
	}
	wantConnect(t, n, "dev-2", "anyone", "pw2", nil)
	data, _ := os.ReadFile(filepath.Join(e.DataDir, "auth_clientid.json"))
	if !strings.Contains(string(data), `"$2a$`) || strings.Contains(string(data), "pw2") {
		t.Errorf("store should hold bcrypt hashes:\n%s", data)
	}
	if b, _ := os.ReadFile(filepath.Join(e.DataDir, "loaded_plugins")); string(b) != "{emqx_auth_clientid, true}.\n" {
		t.Errorf("loaded_plugins: %q", b)
	}
}

// TestPluginsCommand: list, unknown and unavailable plugins, double load, reload.
func TestPluginsCommand(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t)
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	plugins := m.Commands()["plugins"]
	f := func(args []string, wantCode int, want string) {
		t.Helper()
		out, code := plugins(args)
		if code != wantCode || !strings.Contains(out, want) {
			t.Errorf("plugins %v: %d %q, want %d and %q", args, code, out, wantCode, want)
		}
	}
	f([]string{"load", "emqx_auth_jwt"}, 0, "Plugin emqx_auth_jwt loaded successfully.\n")
	f([]string{"load", "emqx_auth_jwt"}, 1, "Load plugin emqx_auth_jwt error: already_started.\n")
	f([]string{"load", "emqx_auth_nosuch"}, 1, "Load plugin emqx_auth_nosuch error: not_found.\n")
	f([]string{"load", "emqx_coap"}, 1, "Load plugin emqx_coap error: not available in this build")
	f([]string{"unload", "emqx_auth_username"}, 1, "Unload plugin emqx_auth_username error: not_started.\n")
	f([]string{"reload", "emqx_auth_jwt"}, 0, "Plugin emqx_auth_jwt reloaded successfully.\n")
	f([]string{"reload", "emqx_auth_clientid"}, 1, "not_started")
	f([]string{"list"}, 0, "Plugin(emqx_auth_jwt, version=")
	f([]string{"list"}, 0, "description=Authentication with JWT, active=true)\n")
	f([]string{"list"}, 0, "description=Authentication with Username/Password, active=false)\n")
	f([]string{"frobnicate", "x"}, 1, "plugins load <Plugin>")

	// A reload whose new configuration fails keeps the running plugin.
	writePluginConf(t, e, "emqx_auth_jwt", "auth.jwt.secret = s\nauth.jwt.from = cookie\n")
	f([]string{"reload", "emqx_auth_jwt"}, 1, "emqx_auth_jwt.conf:2: auth.jwt.from: expected one of password, username")
	if got := m.Loaded(); len(got) != 1 || got[0] != "emqx_auth_jwt" {
		t.Errorf("after a failed reload: loaded %v", got)
	}
}

// TestConfErrorsNameFileLineKey: problems in a plugin's file and environment are reported
// with where they were set.
func TestConfErrorsNameFileLineKey(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__USER__PASSWORD_HASH=sha3", "EMQX_AUTH__USER__BOGUS=1", "EMQX_AUTH__REDIS__SERVER=x:1")
	writePluginConf(t, e, "emqx_auth_username", "## users\nauth.user.1.username = a\nauth.user.colour = red\nauth.user.2.password = p\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	err := m.Load("emqx_auth_username")
	if err == nil {
		t.Fatal("load with a broken configuration succeeded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_username.conf")
	for _, want := range []string{
		file + ":3: auth.user.colour: unknown key of emqx_auth_username",
		"environment variable EMQX_AUTH__USER__BOGUS: auth.user.bogus: unknown key",
		"environment variable EMQX_AUTH__USER__PASSWORD_HASH: auth.user.password_hash: bad password hash \"sha3\"",
		file + ":2: auth.user.1.username: has no password: set auth.user.1.password",
		file + ":4: auth.user.2.password: password without username",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "REDIS") {
		t.Errorf("a variable of another plugin was reported:\n%v", err)
	}
	if len(m.Loaded()) != 0 {
		t.Errorf("loaded %v after a failure", m.Loaded())
	}
}

// TestStartFromEnvAndFile: EMQX_LOADED_PLUGINS adds to data/loaded_plugins (EMQX's term
// format, plugins of later work skipped), in order; an unknown name stops start-up.
func TestStartFromEnvAndFile(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__USER__1__USERNAME=u", "EMQX_AUTH__USER__1__PASSWORD=p")
	file := filepath.Join(e.DataDir, "loaded_plugins")
	os.MkdirAll(e.DataDir, 0o755)
	os.WriteFile(file, []byte("{emqx_management, true}.\n{emqx_auth_username, true}.\n{emqx_retainer,true}.\n"), 0o644)
	m := New(n, e, file, quietLog())
	if err := m.Start("emqx_auth_jwt, emqx_auth_clientid"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Loaded(), ","); got != "emqx_auth_username,emqx_auth_jwt,emqx_auth_clientid" {
		t.Errorf("loaded %s", got)
	}
	b, _ := os.ReadFile(file)
	if want := "{emqx_management, true}.\n{emqx_auth_username, true}.\n{emqx_retainer, true}.\n{emqx_auth_jwt, true}.\n{emqx_auth_clientid, true}.\n"; string(b) != want {
		t.Errorf("loaded_plugins:\n%s\nwant:\n%s", b, want)
	}
	wantConnect(t, n, "x", "u", "p", nil)

	if err := New(startNode(t, true), e, file, quietLog()).Start("emqx_auth_usrname"); err == nil || !strings.Contains(err.Error(), `unknown plugin "emqx_auth_usrname"`) {
		t.Errorf("unknown name in EMQX_LOADED_PLUGINS: %v", err)
	}
	os.WriteFile(file, []byte("{emqx_auth_username, true}.\nemqx_auth_jwt\n"), 0o644)
	if err := New(startNode(t, true), e, file, quietLog()).Start(""); err == nil || !strings.Contains(err.Error(), file+":2:") {
		t.Errorf("malformed loaded_plugins: %v", err)
	}
}
