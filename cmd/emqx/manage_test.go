package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestManagementWiring: the binary wires the management applications (emqx_ctl mgmt and the
// API share data/mgmt_apps.json), the $SYS service's alarms, the plugin manager and the
// banned service's file into the HTTP API.
func TestManagementWiring(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, _ := nodeEnv(t, work)
	env = append(env, "EMQX_OS_MON__SYSMEM_HIGH_WATERMARK=1%") // raises an alarm at start
	apiAddr := apiAddrOf(env)
	foreground(t, emqx, work, env)

	out, code := run(t, work, env, ctl, "mgmt", "insert", "ops", "Operations")
	secret, ok := strings.CutPrefix(strings.TrimSpace(out), "AppSecret: ")
	if code != 0 || !ok {
		t.Fatalf("mgmt insert: exit %d %q", code, out)
	}
	fi, err := os.Stat(filepath.Join(work, "data", "mgmt_apps.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("data/mgmt_apps.json: %v %v", fi, err)
	}
	call := func(method, path, body, id, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+apiAddr+path, strings.NewReader(body))
		req.SetBasicAuth(id, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	as := func(method, path, body string) (int, string) { return call(method, path, body, "ops", secret) }

	if status, body := as("GET", "/api/v4/apps", ""); status != 200 || !strings.Contains(body, `"app_id":"admin"`) || !strings.Contains(body, `"app_id":"ops"`) {
		t.Fatalf("apps as ops: %d %s", status, body)
	}
	if status, body := call("POST", "/api/v4/apps", `{"app_id":"viaapi","secret":"s3"}`, "admin", "public"); status != 200 {
		t.Fatalf("create via the API: %d %s", status, body)
	}
	if out, code := run(t, work, env, ctl, "mgmt", "lookup", "viaapi"); code != 0 || !strings.Contains(out, "secret: s3\n") {
		t.Errorf("mgmt lookup of an application created by the API: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "mgmt", "update", "ops", "false"); code != 0 || out != "update successfully.\n" {
		t.Fatalf("mgmt update: exit %d %q", code, out)
	}
	if status, _ := as("GET", "/api/v4/apps", ""); status != 401 {
		t.Fatalf("disabled by emqx_ctl, still let in: %d", status)
	}
	run(t, work, env, ctl, "mgmt", "update", "ops", "true")

	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body := as("GET", "/api/v4/alarms/activated", "")
		if status == 200 && strings.Contains(body, `"name":"high_system_memory_usage"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var plugins struct {
		Data []struct {
			Plugins []struct {
				Name   string
				Active bool
				Type   string
			}
		}
	}
	active := func(name string) bool {
		t.Helper()
		status, body := as("GET", "/api/v4/plugins", "")
		if err := json.Unmarshal([]byte(body), &plugins); status != 200 || err != nil || len(plugins.Data) != 1 {
			t.Fatalf("plugins: %d %s", status, body)
		}
		for _, p := range plugins.Data[0].Plugins {
			if p.Name == name {
				return p.Active
			}
		}
		t.Fatalf("plugin %s not listed", name)
		return false
	}
	if !active("emqx_management") || active("emqx_auth_username") {
		t.Fatalf("plugins at start: %+v", plugins)
	}
	if status, body := as("PUT", "/api/v4/plugins/emqx_auth_username/load", ""); status != 200 {
		t.Fatalf("load: %d %s", status, body)
	}
	if !active("emqx_auth_username") {
		t.Fatal("emqx_auth_username not active after load")
	}
	if out, _ := run(t, work, env, ctl, "plugins", "list"); !strings.Contains(out, "Plugin(emqx_auth_username, version=") || !strings.Contains(out, "Authentication with Username/Password, active=true)") {
		t.Errorf("plugins list after a load through the API:\n%s", out)
	}
	if status, body := as("PUT", "/api/v4/plugins/emqx_auth_username/unload", ""); status != 200 {
		t.Fatalf("unload: %d %s", status, body)
	}
	if status, body := as("PUT", "/api/v4/plugins/emqx_nosuch/load", ""); status != 404 || !strings.Contains(body, "not_found") {
		t.Errorf("load of an unknown plugin: %d %s", status, body)
	}

	if status, body := as("POST", "/api/v4/banned", `{"who":"evil","as":"clientid","until":"infinity"}`); status != 200 {
		t.Fatalf("ban: %d %s", status, body)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(work, "data", "banned.json"))
		if strings.Contains(string(b), `"evil"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data/banned.json after POST /banned: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _ := run(t, work, env, ctl, "banned", "list"); !strings.Contains(out, "type=client_id, value=evil") || !strings.Contains(out, "by=mgmt_api") {
		t.Errorf("banned list after POST /banned:\n%s", out)
	}
	if status, body := as("GET", "/api/v4/listeners", ""); status != 200 || !strings.Contains(body, `"identifier":"mqtt:tcp:external"`) {
		t.Errorf("listeners: %d %s", status, body)
	}
}
