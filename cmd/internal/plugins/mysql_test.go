package plugins

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmysql/mariadbtest"
)

// TestMySQLPluginEmbeddedDefaults: emqx_auth_mysql loaded with its embedded file (EMQX's
// queries, password_hash sha256, database mqtt) and only the server and account changed by
// EMQX_AUTH__MYSQL__* variables, against a real mariadbd with EMQX's schema. The
// engine/service/authmysql tests cover the plugin's behaviour in depth.
func TestMySQLPluginEmbeddedDefaults(t *testing.T) {
	s, err := mariadbtest.Start(t.TempDir())
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(); s.Admin.Close() })
	h, err := passhash.Hash(passhash.Spec{Algo: passhash.SHA256}, []byte("public"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('my', '"+h+"')")

	n := startNode(t, false)
	e := testEnv(t, "EMQX_AUTH__MYSQL__SERVER="+strconv.Itoa(s.Port), // EMQX's "Port" form
		"EMQX_AUTH__MYSQL__USERNAME="+mariadbtest.User, "EMQX_AUTH__MYSQL__PASSWORD="+mariadbtest.Password)
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_mysql"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "m1", "my", "public", nil)
	wantConnect(t, n, "m2", "my", "wrong", errBadCreds)
	wantConnect(t, n, "m3", "nobody", "public", errBadCreds)      // ignored, anonymous refused
	wantConnect(t, n, "m4", "' or 1=1 --", "public", errBadCreds) // a value, not SQL
	out, _ := m.Commands()["plugins"]([]string{"list"})
	if !strings.Contains(out, "Plugin(emqx_auth_mysql, version=") || !strings.Contains(out, "description=Authentication/ACL with MySQL, active=true)") {
		t.Errorf("plugins list:\n%s", out)
	}
	inst := m.Instance("emqx_auth_mysql")
	if len(inst.Authenticators) != 1 || len(inst.Authorizers) != 1 {
		t.Errorf("links: %d authenticators, %d authorizers, want 1 and 1", len(inst.Authenticators), len(inst.Authorizers))
	}
	t.Run("tls", func(t *testing.T) { checkMySQLPluginTLS(t, s) })
}

// TestMySQLPluginUnreachable: a node starts with the plugin while the server is down; MQTT
// 3.1.1 clients that need it get CONNACK 0x03 (server unavailable), those that do not are
// unaffected.
func TestMySQLPluginUnreachable(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__MYSQL__SERVER=127.0.0.1:"+strconv.Itoa(freePort(t)))
	writePluginConf(t, e, "emqx_auth_mysql", "auth.mysql.query_timeout = 300ms\nauth.mysql.auth_query = select password from mqtt_user where username = '%u'\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_mysql"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "u1", "someone", "pw", packets.ErrorRefusedServerUnavailable)
	wantConnect(t, n, "u2", "", "", nil)
	if inst := m.Instance("emqx_auth_mysql"); len(inst.Authorizers) != 0 {
		t.Errorf("acl_query unset in the file, yet %d authorizers", len(inst.Authorizers))
	}
}

// TestMySQLPluginConfErrors: what the plugin refuses, naming file, line and key.
func TestMySQLPluginConfErrors(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__MYSQL__POOL=0")
	writePluginConf(t, e, "emqx_auth_mysql", "auth.mysql.query_timeout = soon\nauth.mysql.password_hash = rot13\n"+
		"auth.mysql.auth_query = select password from mqtt_user where username = %u\nauth.mysql.acl_query = select 1 where a = '%c\n")
	err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_mysql")
	if err == nil {
		t.Fatal("a broken configuration loaded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_mysql.conf")
	for _, want := range []string{
		file + ":1: auth.mysql.query_timeout: expected a duration",
		file + ":2: auth.mysql.password_hash: ",
		file + ":3: auth.mysql.auth_query: placeholder %u at byte 48 is not quoted: write '%u'",
		file + ":4: auth.mysql.acl_query: ' at byte 19 is never closed",
		"EMQX_AUTH__MYSQL__POOL: auth.mysql.pool: expected a whole number greater than 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
