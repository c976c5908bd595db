package plugins

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
)

// TestMongoPluginEmbeddedDefaults: emqx_auth_mongo loaded with its embedded file (EMQX's
// collections mqtt_user and mqtt_acl, selectors username=%u, password_hash sha256, superuser
// and ACL queries on) and only the server changed by EMQX_AUTH__MONGO__SERVER, against
// FerretDB; two ACL selectors given as acl_query.selector.1 and .2; then over TLS with the CA
// file set by variables. The
// engine/service/authmongo tests cover the plugin's behaviour in depth.
func TestMongoPluginEmbeddedDefaults(t *testing.T) {
	s, err := ferrettest.Start(t.TempDir())
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	h, err := passhash.Hash(passhash.Spec{Algo: passhash.SHA256}, []byte("public"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Insert(t, "mqtt_user", bson.M{"username": "mo", "password": h}, bson.M{"username": "root", "password": h, "is_superuser": true})
	s.Insert(t, "mqtt_acl", bson.M{"username": "mo", "publish": bson.A{"mo/#"}}, bson.M{"username": "$all", "subscribe": bson.A{"all/#"}})

	n := startNode(t, false)
	e := testEnv(t, "EMQX_AUTH__MONGO__SERVER="+s.Addr(), "EMQX_AUTH__MONGO__ACL_QUERY__SELECTOR__1=username=%u", "EMQX_AUTH__MONGO__ACL_QUERY__SELECTOR__2=username=$all")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	n.AddMetrics(m.Metrics)
	if err := m.Start("emqx_auth_mongo"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "m1", "mo", "public", nil)
	wantConnect(t, n, "m2", "mo", "wrong", errBadCreds)
	wantConnect(t, n, "m3", "nobody", "public", errBadCreds)        // ignored, anonymous refused
	wantConnect(t, n, "m4", `{"$ne": null}`, "public", errBadCreds) // a string, not an operator
	c := client(t, n, "m5", "mo", "public")
	if got := subscribeCode(t, c, "all/x", nil); got != 1 {
		t.Errorf("subscribe by the $all document: %#x", got)
	}
	if got := subscribeCode(t, c, "mo/x", nil); got != 0x80 {
		t.Errorf("subscribe to a publish-only filter: %#x, want 0x80", got)
	}
	out, _ := m.Commands()["plugins"]([]string{"list"})
	if !strings.Contains(out, "description=Authentication/ACL with MongoDB, active=true)") {
		t.Errorf("plugins list:\n%s", out)
	}
	// Over TLS, the server's certificate checked against the test CA.
	e2 := testEnv(t, "EMQX_AUTH__MONGO__SERVER=127.0.0.1:"+strconv.Itoa(s.TLSPort), "EMQX_AUTH__MONGO__SSL=true",
		"EMQX_AUTH__MONGO__SSL_OPTS__CACERTFILE="+s.CAFile())
	n2 := startNode(t, false)
	m2 := New(n2, e2, filepath.Join(e2.DataDir, "loaded_plugins"), quietLog())
	if err := m2.Load("emqx_auth_mongo"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n2, "t1", "mo", "public", nil)
	wantConnect(t, n2, "t2", "mo", "wrong", errBadCreds)

	got := map[string]uint64{}
	for _, x := range n.Metrics() {
		got[x.Name] = x.Value
	}
	if got["auth.mongo.success"] != 2 || got["auth.mongo.failure"] != 1 || got["acl.mongo.allow"] != 1 || got["acl.mongo.deny"] != 1 {
		t.Errorf("metrics: success %d failure %d acl allow %d deny %d, want 2 1 1 1", got["auth.mongo.success"], got["auth.mongo.failure"], got["acl.mongo.allow"], got["acl.mongo.deny"])
	}
}

// TestMongoPluginConfErrors: what the plugin refuses, naming file, line and key.
func TestMongoPluginConfErrors(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__MONGO__POOL=0")
	writePluginConf(t, e, "emqx_auth_mongo", "auth.mongo.type = rs\nauth.mongo.auth_query.selector = username\n"+
		"auth.mongo.auth_query.password_hash = rot13\nauth.mongo.r_mode = sometimes\nauth.mongo.acl_query.selector.1 = =x\n")
	err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_mongo")
	if err == nil {
		t.Fatal("a broken configuration loaded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_mongo.conf")
	for _, want := range []string{
		"auth.mongo.rs_set_name: type rs needs the replica set's name",
		file + ":2: auth.mongo.auth_query.selector: \"username\" is no field=value pair",
		file + ":3: auth.mongo.auth_query.password_hash: ",
		file + ":4: auth.mongo.r_mode: expected one of master, slave_ok",
		file + ":5: auth.mongo.acl_query.selector.1: \"=x\" is no field=value pair",
		"EMQX_AUTH__MONGO__POOL: auth.mongo.pool: expected a whole number greater than 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
