package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
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
	if out, code := run(t, work, env, ctl, "plugins", "load", "emqx_lua_hook"); code == 0 || !strings.Contains(out, "not available in this build") {
		t.Errorf("load emqx_lua_hook: %d %q", code, out)
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

// TestBackendOutageAlarmAndMetrics: a node started with emqx_auth_ldap pointed at a port where
// nothing listens refuses its clients with "server unavailable", raises one alarm for the
// outage (emqx_ctl alarms), and counts the refusals and failed requests under EMQX's names in
// emqx_ctl metrics and /metrics.
func TestBackendOutageAlarmAndMetrics(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	apiAddr := apiAddrOf(env)
	env = append(env, "EMQX_ALLOW_ANONYMOUS=false", "EMQX_LOADED_PLUGINS=emqx_auth_ldap",
		"EMQX_AUTH__LDAP__SERVERS=127.0.0.1:"+strconv.Itoa(freePort(t)), "EMQX_AUTH__LDAP__TIMEOUT=300ms")
	foreground(t, emqx, work, env)
	for i := 0; i < 3; i++ {
		if err := connectAs(t, port, "o"+strconv.Itoa(i), "dev", "pw"); !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
			t.Errorf("connect during the outage: %v, want server unavailable", err)
		}
	}
	out, code := run(t, work, env, ctl, "alarms")
	if code != 0 || strings.Count(out, "name: emqx_auth_ldap_backend_unavailable, message: emqx_auth_ldap: ldap does not answer") != 1 {
		t.Errorf("alarms: exit %d, want the plugin's alarm once:\n%s", code, out)
	}
	out, _ = run(t, work, env, ctl, "metrics")
	for _, re := range []string{`(?m)^auth\.ldap\.failure\s+: 3$`, `(?m)^auth\.ldap\.success\s+: 0$`, `(?m)^backend\.ldap\.outages\s+: 1$`, `(?m)^backend\.ldap\.errors\s+: [1-9]`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("emqx_ctl metrics lacks %s:\n%s", re, out)
		}
	}
	resp, err := http.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "\nemqx_auth_ldap_failure_total 3\n") || !strings.Contains(string(b), "\nemqx_backend_ldap_outages_total 1\n") {
		t.Errorf("/metrics lacks the plugin's counters:\n%s", b)
	}
}

// metricValue reads one counter or gauge from `emqx_ctl metrics`; -1 when it is missing.
func metricValue(t *testing.T, work string, env []string, ctl, name string) int {
	t.Helper()
	out, code := run(t, work, env, ctl, "metrics")
	if code != 0 {
		t.Fatalf("emqx_ctl metrics: exit %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+: (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// TestAuthStormProcessors: 60 clients connect at once through emqx_auth_http while its
// backend (a real net/http server) holds every request. Its 32 pool connections are taken
// and the rest queue for the plugin's workers: the node doubles its Go processors
// (node.auth_storm_procs = 100%, scheduler.procs and scheduler.boosts in emqx_ctl metrics
// and /metrics). Once the backend answers, every client is accepted and, a second after the
// queue emptied, the node is back at its default.
func TestAuthStormProcessors(t *testing.T) {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		t.Skipf("GOMAXPROCS=%s in the environment turns the booster off by design", v)
	}
	if procs, cpus := runtime.GOMAXPROCS(0), runtime.NumCPU(); procs < cpus {
		t.Skipf("a CPU quota limits this process to %d of %d CPUs: the booster is off by design", procs, cpus)
	}
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	apiAddr := apiAddrOf(env)
	hold := make(chan struct{})
	var held atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		if r.FormValue("username") == "storm" && r.FormValue("password") == "pw" {
			return // 200: allow
		}
		w.WriteHeader(http.StatusUnauthorized)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	env = append(env, "EMQX_ALLOW_ANONYMOUS=false", "EMQX_LOADED_PLUGINS=emqx_auth_http",
		"EMQX_AUTH__HTTP__AUTH_REQ=http://"+l.Addr().String()+"/mqtt/auth",
		"EMQX_AUTH__HTTP__SUPER_REQ=", "EMQX_AUTH__HTTP__ACL_REQ=")
	foreground(t, emqx, work, env)

	base := metricValue(t, work, env, ctl, "scheduler.procs")
	if base < 1 || metricValue(t, work, env, ctl, "scheduler.boosts") != 0 {
		t.Fatalf("before the storm: scheduler.procs = %d, scheduler.boosts = %d, want the default and 0",
			base, metricValue(t, work, env, ctl, "scheduler.boosts"))
	}
	const clients = 60
	errs := make(chan error, clients)
	for i := range clients {
		go func() { errs <- connectAs(t, port, "storm-"+strconv.Itoa(i), "storm", "pw") }()
	}
	deadline := time.Now().Add(8 * time.Second)
	for metricValue(t, work, env, ctl, "scheduler.boosts") != 1 {
		if time.Now().After(deadline) {
			close(hold)
			t.Fatalf("no boost with %d requests held by the backend (%d clients connecting)", held.Load(), clients)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := metricValue(t, work, env, ctl, "scheduler.procs"); got != 2*base {
		t.Errorf("scheduler.procs = %d during the storm, want %d", got, 2*base)
	}
	resp, err := http.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "# TYPE emqx_scheduler_procs gauge\nemqx_scheduler_procs "+strconv.Itoa(2*base)+"\n") {
		t.Errorf("/metrics lacks emqx_scheduler_procs %d:\n%s", 2*base, b)
	}
	close(hold)
	for range clients {
		if err := <-errs; err != nil {
			t.Errorf("a storm client was refused: %v", err)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for metricValue(t, work, env, ctl, "scheduler.procs") != base {
		if time.Now().After(deadline) {
			t.Fatalf("scheduler.procs = %d 10 s after the storm, want the default %d", metricValue(t, work, env, ctl, "scheduler.procs"), base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := metricValue(t, work, env, ctl, "scheduler.boosts"); got != 1 {
		t.Errorf("scheduler.boosts = %d after one storm, want 1", got)
	}
}
