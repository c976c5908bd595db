package plugins

import (
	"crypto/sha1"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/engine/service/authldap/slapdtest"
)

func startSlapd(t *testing.T) *slapdtest.Server {
	t.Helper()
	s, err := slapdtest.Start(t.TempDir())
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// TestLDAPPluginEmbeddedDefaults: emqx_auth_ldap loaded with its embedded file (EMQX's
// bind_dn cn=root,dc=emqx,dc=io / public, device_dn ou=device,dc=emqx,dc=io, uid, userPassword,
// objectClass mqttUser) and only the servers changed by EMQX_AUTH__LDAP__SERVERS, against a
// real slapd; then over LDAPS with the CA file set by variables. The plugin's decisions show
// in the node's metrics under EMQX's names. The engine/service/authldap tests cover the
// plugin's behaviour in depth.
func TestLDAPPluginEmbeddedDefaults(t *testing.T) {
	s := startSlapd(t)
	d := sha1.Sum([]byte("public"))
	s.AddDevice(t, "ld", map[string][]string{"userPassword": {"{SHA}" + base64.StdEncoding.EncodeToString(d[:])}, "mqttPubSubTopic": {"ld/#"}})

	n := startNode(t, false)
	e := testEnv(t, "EMQX_AUTH__LDAP__SERVERS="+s.Addr())
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	n.AddMetrics(m.Metrics)
	if err := m.Start("emqx_auth_ldap"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "l1", "ld", "public", nil)
	wantConnect(t, n, "l2", "ld", "wrong", errBadCreds)
	wantConnect(t, n, "l3", "nobody", "public", errBadCreds)   // ignored, anonymous refused
	wantConnect(t, n, "l4", "*)(uid=*", "public", errBadCreds) // a DN value, not a filter
	out, _ := m.Commands()["plugins"]([]string{"list"})
	if !strings.Contains(out, "description=Authentication/ACL with LDAP, active=true)") {
		t.Errorf("plugins list:\n%s", out)
	}
	got := map[string]uint64{}
	for _, x := range n.Metrics() {
		got[x.Name] = x.Value
	}
	for name, want := range map[string]uint64{"auth.ldap.success": 1, "auth.ldap.failure": 1, "auth.ldap.ignore": 2, "backend.ldap.outages": 0} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("metric %s = %d (present %v), want %d", name, v, ok, want)
		}
	}
	if got["backend.ldap.queries"] < 4 {
		t.Errorf("backend.ldap.queries = %d, want at least 4", got["backend.ldap.queries"])
	}

	// LDAPS, the server's certificate checked against the test CA.
	e2 := testEnv(t, "EMQX_AUTH__LDAP__SERVERS=127.0.0.1", "EMQX_AUTH__LDAP__PORT="+strconv.Itoa(s.TLSPort),
		"EMQX_AUTH__LDAP__SSL=true", "EMQX_AUTH__LDAP__SSL__CACERTFILE="+filepath.Join(s.Dir, "ca.pem"))
	n2 := startNode(t, false)
	m2 := New(n2, e2, filepath.Join(e2.DataDir, "loaded_plugins"), quietLog())
	if err := m2.Load("emqx_auth_ldap"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n2, "t1", "ld", "public", nil)
	wantConnect(t, n2, "t2", "ld", "wrong", errBadCreds)
}

// TestLDAPPluginOutageAlarm: with the directory unreachable, clients that need it are
// refused with "server unavailable" and one alarm is raised for the outage, not one per
// client; it is cleared when the plugin is unloaded. The counters survive the unload.
func TestLDAPPluginOutageAlarm(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__LDAP__SERVERS=127.0.0.1:"+strconv.Itoa(freePort(t)), "EMQX_AUTH__LDAP__TIMEOUT=300ms")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	alarms := &alarmLog{}
	if err := m.Load("emqx_auth_ldap"); err != nil {
		t.Fatal(err)
	}
	m.SetAlarms(alarms) // given after the start, as cmd/emqx does
	for i := 0; i < 3; i++ {
		wantConnect(t, n, "u"+strconv.Itoa(i), "someone", "pw", errUnavailable)
	}
	wantConnect(t, n, "anon", "", "", nil)
	if got := alarms.events(); len(got) != 1 || got[0] != "raise emqx_auth_ldap_backend_unavailable" {
		t.Errorf("alarm events %v, want one raise", got)
	}
	mon := m.Monitor("emqx_auth_ldap")
	if mon == nil || !mon.Down() {
		t.Fatal("no monitor, or it does not report the outage")
	}
	if err := m.Unload("emqx_auth_ldap"); err != nil {
		t.Fatal(err)
	}
	if got := alarms.events(); len(got) != 2 || got[1] != "clear emqx_auth_ldap_backend_unavailable" {
		t.Errorf("alarm events %v, want a raise then a clear", got)
	}
	var failures uint64
	for _, x := range m.Metrics() {
		if x.Name == "auth.ldap.failure" {
			failures = x.Value
		}
	}
	if failures != 3 {
		t.Errorf("auth.ldap.failure = %d after the unload, want 3", failures)
	}
}

// TestLDAPPluginConfErrors: what the plugin refuses, naming file, line and key.
func TestLDAPPluginConfErrors(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__LDAP__POOL=0")
	writePluginConf(t, e, "emqx_auth_ldap", "auth.ldap.timeout = soon\nauth.ldap.ssl = true\nauth.ldap.ssl.verify = maybe\nauth.ldap.servers = ,\nauth.ldap.filter = x\n")
	err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_ldap")
	if err == nil {
		t.Fatal("a broken configuration loaded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_ldap.conf")
	for _, want := range []string{
		file + ":1: auth.ldap.timeout: expected a duration",
		file + ":3: auth.ldap.ssl.verify: expected one of verify_peer, verify_none",
		file + ":4: auth.ldap.servers: no server",
		file + ":5: auth.ldap.filter: unknown key of emqx_auth_ldap",
		"EMQX_AUTH__LDAP__POOL: auth.ldap.pool: expected a whole number greater than 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

var errUnavailable = packets.ErrorRefusedServerUnavailable

// alarmLog is a backend.Alarms that records raises and clears in order.
type alarmLog struct {
	mu  sync.Mutex
	evs []string
}

func (a *alarmLog) Raise(name, _ string, _ map[string]any) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, "raise "+name)
	return true
}

func (a *alarmLog) Clear(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, "clear "+name)
	return true
}

func (a *alarmLog) events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.evs...)
}
