package plugins

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emqgo/emqgo/engine/service/dashboard"
	"github.com/emqgo/emqgo/engine/transport/certgen"
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

// TestDashboardHTTPS: dashboard.listener.https with the demo certificates and tls_versions
// serves the page over TLS 1.2 and above only, alone (dashboard.listener.http unset); a key
// without effect is accepted with a warning; a missing keyfile stops the load naming the key.
func TestDashboardHTTPS(t *testing.T) {
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	base := []string{"EMQX_DASHBOARD__LISTENER__HTTP=", "EMQX_DASHBOARD__LISTENER__HTTPS=" + addr,
		"EMQX_DASHBOARD__LISTENER__HTTPS__CERTFILE=" + filepath.Join(dir, certgen.Files.Cert),
		"EMQX_DASHBOARD__LISTENER__HTTPS__TLS_VERSIONS=tlsv1.3,tlsv1.2",
		"EMQX_DASHBOARD__LISTENER__HTTPS__HONOR_CIPHER_ORDER=on"}
	sessions := dashboard.NewSessions(mustAdmins(t, ""), 0)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	logged := &syncWriter{}
	env := Env{DataDir: dir, Environ: base, Dashboard: &DashboardEnv{API: api, Sessions: sessions},
		Log: slog.New(slog.NewTextHandler(logged, nil))}
	m := New(startNode(t, true), env, filepath.Join(dir, "loaded_plugins"), quietLog())
	defer m.Close()
	err = m.Load(DashboardPlugin)
	if err == nil || !strings.Contains(err.Error(), "dashboard.listener.https.certfile") || !strings.Contains(err.Error(), "keyfile") {
		t.Fatalf("HTTPS without keyfile: %v", err)
	}
	env.Environ = append(base, "EMQX_DASHBOARD__LISTENER__HTTPS__KEYFILE="+filepath.Join(dir, certgen.Files.Key))
	m = New(startNode(t, true), env, filepath.Join(dir, "loaded_plugins"), quietLog())
	defer m.Close()
	if err := m.Load(DashboardPlugin); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "key=dashboard.listener.https.honor_cipher_order") {
		t.Errorf("no warning for honor_cipher_order:\n%s", logged.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	get := func(maxVersion uint16) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}}}
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "emqgo dashboard") {
			return fmt.Errorf("page: %.80q", b)
		}
		return nil
	}
	if err := get(tls.VersionTLS13); err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	if err := get(tls.VersionTLS11); err == nil {
		t.Fatal("TLS 1.1 accepted with tls_versions = tlsv1.3,tlsv1.2")
	}
}

// syncWriter collects log lines written from any goroutine (the dashboard's servers log too).
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
