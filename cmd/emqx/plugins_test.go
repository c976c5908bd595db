package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// connectAs connects a paho MQTT 3.1.1 client and returns the refusal, nil when accepted.
func connectAs(t *testing.T, port int, id, user, pass string) error {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + strconv.Itoa(port)).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: no CONNACK", id)
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// TestPluginsThroughCtl: emqx_ctl plugins load|unload|list and users add drive a running
// node; data/loaded_plugins brings the plugin back after a restart; EMQX_LOADED_PLUGINS
// loads one at start.
func TestPluginsThroughCtl(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	env = append(env, "EMQX_ALLOW_ANONYMOUS=false", "EMQX_AUTH__USER__1__USERNAME=admin", "EMQX_AUTH__USER__1__PASSWORD=public")
	foreground(t, emqx, work, env)

	if err := connectAs(t, port, "a1", "admin", "public"); err == nil {
		t.Fatal("admin accepted before any plugin is loaded (allow_anonymous = false)")
	}
	if out, code := run(t, work, env, ctl, "users", "list"); code == 0 || !strings.Contains(out, "not loaded") {
		t.Errorf("users list without the plugin: %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "plugins", "load", "emqx_auth_username"); code != 0 || out != "Plugin emqx_auth_username loaded successfully.\n" {
		t.Fatalf("plugins load: %d %q", code, out)
	}
	if err := connectAs(t, port, "a2", "admin", "public"); err != nil {
		t.Errorf("admin after load: %v", err)
	}
	if out, code := run(t, work, env, ctl, "users", "add", "bob", "pw"); code != 0 || out != "ok\n" {
		t.Fatalf("users add: %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "plugins", "list"); code != 0 || !strings.Contains(out, "Plugin(emqx_auth_username, version=") || !strings.Contains(out, "active=true)") {
		t.Errorf("plugins list: %d\n%s", code, out)
	}
	if out, code := run(t, work, env, ctl, "plugins", "load", "emqx_auth_mongo"); code == 0 || !strings.Contains(out, "not available in this build yet") {
		t.Errorf("load mongo: %d %q", code, out)
	}
	if out, code := run(t, work, env, emqx, "stop"); code != 0 {
		t.Fatalf("stop: %d %s", code, out)
	}

	// Restart: data/loaded_plugins loads emqx_auth_username again, bob is still there;
	// EMQX_LOADED_PLUGINS adds emqx_auth_jwt.
	if b, _ := os.ReadFile(filepath.Join(work, "data", "loaded_plugins")); string(b) != "{emqx_auth_username, true}.\n" {
		t.Errorf("loaded_plugins: %q", b)
	}
	foreground(t, emqx, work, append(env, "EMQX_LOADED_PLUGINS=emqx_auth_jwt"))
	if err := connectAs(t, port, "b1", "bob", "pw"); err != nil {
		t.Errorf("bob after restart: %v", err)
	}
	if err := connectAs(t, port, "b2", "bob", "wrong"); err == nil {
		t.Error("bob with a wrong password accepted")
	}
	out, _ := run(t, work, env, ctl, "plugins", "list")
	if !strings.Contains(out, "description=Authentication with JWT, active=true)") {
		t.Errorf("emqx_auth_jwt not active after EMQX_LOADED_PLUGINS:\n%s", out)
	}
	if out, code := run(t, work, env, ctl, "plugins", "unload", "emqx_auth_username"); code != 0 || out != "Plugin emqx_auth_username unloaded successfully.\n" {
		t.Fatalf("unload: %d %q", code, out)
	}
	if err := connectAs(t, port, "b3", "bob", "pw"); err == nil {
		t.Error("bob accepted after the plugin was unloaded")
	}
}

// TestBadLoadedPluginStopsStart: an unknown name in EMQX_LOADED_PLUGINS stops start-up.
func TestBadLoadedPluginStopsStart(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, _ := nodeEnv(t, work)
	out, code := run(t, work, append(env, "EMQX_LOADED_PLUGINS=emqx_auth_nosuch"), emqx, "foreground")
	if code == 0 || !strings.Contains(out, `unknown plugin "emqx_auth_nosuch"`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
