package plugins

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestPgSQLPluginUnreachable: loaded with its embedded file while no PostgreSQL listens on
// the configured port; MQTT 3.1.1 clients that need it get CONNACK 0x03 (server unavailable),
// those that do not are unaffected, and plugins list shows it active. The
// engine/service/authpgsql tests cover the plugin against a real server.
func TestPgSQLPluginUnreachable(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__PGSQL__SERVER="+strconv.Itoa(freePort(t)), "EMQX_AUTH__PGSQL__QUERY_TIMEOUT=300ms")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_pgsql"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "u1", "someone", "pw", packets.ErrorRefusedServerUnavailable)
	wantConnect(t, n, "u2", "", "", nil)
	out, _ := m.Commands()["plugins"]([]string{"list"})
	if !strings.Contains(out, "Plugin(emqx_auth_pgsql, version=") || !strings.Contains(out, "description=Authentication/ACL with PostgreSQL, active=true)") {
		t.Errorf("plugins list:\n%s", out)
	}
	inst := m.Instance("emqx_auth_pgsql")
	if len(inst.Authenticators) != 1 || len(inst.Authorizers) != 1 {
		t.Errorf("links: %d authenticators, %d authorizers, want 1 and 1", len(inst.Authenticators), len(inst.Authorizers))
	}
}

// TestPgSQLPluginConfErrors: what the plugin refuses, naming file, line and key.
func TestPgSQLPluginConfErrors(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__PGSQL__POOL=0")
	writePluginConf(t, e, "emqx_auth_pgsql", "auth.pgsql.encoding = latin1\n"+
		"auth.pgsql.query_timeout = soon\n"+
		"auth.pgsql.password_hash = rot13\n"+
		"auth.pgsql.auth_query = select password from mqtt_user where username = 'user:%u'\n"+
		"auth.pgsql.acl_query = select 1 where x = 'open\n"+
		"auth.pgsql.server = nowhere\n")
	err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_pgsql")
	if err == nil {
		t.Fatal("a broken configuration loaded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_pgsql.conf")
	for _, want := range []string{
		file + ":1: auth.pgsql.encoding: only utf8 is supported",
		file + ":2: auth.pgsql.query_timeout: expected a duration",
		file + ":3: auth.pgsql.password_hash: ",
		file + ":4: auth.pgsql.auth_query: placeholder %u inside the string literal 'user:%u'",
		file + ":5: auth.pgsql.acl_query: unterminated string literal",
		file + ":6: auth.pgsql.server: expected Port or IP:Port",
		"EMQX_AUTH__PGSQL__POOL: auth.pgsql.pool: expected a whole number greater than 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
