package plugins

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/service/dashboard"
)

// TestDashboardLoadedByDefault: emqx_dashboard starts with the node without being in
// data/loaded_plugins, serves its page and mounts the API handler; unloaded, it frees its port
// and is written down as false, so the next start leaves it off; reloaded, it serves again;
// its default user is created once.
func TestDashboardLoadedByDefault(t *testing.T) {
	dir := t.TempDir()
	sessions := dashboard.NewSessions(mustAdmins(t, filepath.Join(dir, "admins.json")), 0)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api:"+r.URL.Path) })
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	env := Env{DataDir: dir, Environ: []string{"EMQX_DASHBOARD__LISTENER__HTTP=" + addr}, Defaults: []string{DashboardPlugin},
		Dashboard: &DashboardEnv{API: api, Sessions: sessions}}
	loaded := filepath.Join(dir, "loaded_plugins")
	m := New(startNode(t, true), env, loaded, quietLog())
	if err := m.Start(""); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	get := func(path string) (string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if b, err := get("/api/v4/brokers"); err != nil || b != "api:/api/v4/brokers" {
		t.Fatalf("API through the dashboard: %q %v", b, err)
	}
	if b, _ := get("/"); !strings.Contains(b, "emqgo dashboard") {
		t.Fatalf("page: %q", b)
	}
	if err := sessions.Admins().Check("admin", "public"); err != nil {
		t.Fatalf("default user: %v", err)
	}
	if _, err := os.Stat(loaded); err == nil {
		b, _ := os.ReadFile(loaded)
		if strings.Contains(string(b), DashboardPlugin) {
			t.Fatalf("loaded by default, yet written to loaded_plugins: %q", b)
		}
	}
	if err := m.Reload(DashboardPlugin); err != nil {
		t.Fatalf("reload on the same port: %v", err)
	}
	if b, err := get("/api/v4/x"); err != nil || b != "api:/api/v4/x" {
		t.Fatalf("after reload: %q %v", b, err)
	}
	if err := m.Unload(DashboardPlugin); err != nil {
		t.Fatal(err)
	}
	if _, err := get("/"); err == nil {
		t.Fatal("the dashboard still answers after its unload")
	}
	if b, _ := os.ReadFile(loaded); string(b) != "{emqx_dashboard, false}.\n" {
		t.Fatalf("loaded_plugins after unloading a default plugin: %q", b)
	}
	m2 := New(startNode(t, true), env, loaded, quietLog())
	if err := m2.Start(""); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Instance(DashboardPlugin) != nil {
		t.Fatal("marked false in loaded_plugins, the dashboard loaded anyway")
	}
	if err := m2.Load(DashboardPlugin); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(loaded); string(b) != "{emqx_dashboard, true}.\n" {
		t.Fatalf("loaded_plugins after loading it again: %q", b)
	}
}

func mustAdmins(t *testing.T, path string) *dashboard.Admins {
	t.Helper()
	a, err := dashboard.OpenAdmins(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
