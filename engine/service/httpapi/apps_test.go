package httpapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAppsFile: added applications survive a reopen, the file is 0600, a refused change
// changes nothing, and the default application is neither written nor changeable.
func TestAppsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "mgmt_apps.json")
	def := App{ID: "admin", Secret: "public", Name: "Default", Enabled: true}
	a, err := OpenApps(path, def)
	if err != nil {
		t.Fatal(err)
	}
	app, err := a.Add(App{ID: "ops", Name: "Ops", Enabled: true})
	if err != nil || len(app.Secret) < 24 {
		t.Fatalf("add: %+v %v", app, err)
	}
	if _, err := a.Add(App{ID: "ops", Secret: "x"}); err == nil {
		t.Fatal("adding ops twice succeeded")
	}
	if _, err := a.Add(App{ID: "admin", Secret: "x"}); err == nil {
		t.Fatal("adding the default application's id succeeded")
	}
	for _, bad := range []string{"", "a:b", "a b", strings.Repeat("x", 129)} {
		if _, err := a.Add(App{ID: bad}); err == nil {
			t.Errorf("id %q accepted", bad)
		}
	}
	if _, err := a.Add(App{ID: "temp", Secret: "t", Enabled: true, Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Update("admin", func(*App) error { return nil }); err != ErrDefaultApp {
		t.Errorf("update of the default application: %v", err)
	}
	if err := a.Delete("admin"); err != ErrDefaultApp {
		t.Errorf("delete of the default application: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v, want 0600", fi, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"admin"`) || !strings.Contains(string(data), app.Secret) {
		t.Fatalf("file content:\n%s", data)
	}

	b, err := OpenApps(path, def)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Check("ops", app.Secret) || b.Check("ops", app.Secret+"x") || b.Check("ops", "") {
		t.Error("reopened: ops's secret is not checked right")
	}
	if !b.Check("admin", "public") || b.Check("admin", "publi") {
		t.Error("the default application is not checked right")
	}
	if b.Check("temp", "t") {
		t.Error("an expired application logs in")
	}
	if err := b.Update("ops", func(a *App) error { a.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if b.Check("ops", app.Secret) {
		t.Error("a disabled application logs in")
	}
	ids := []string{}
	for _, x := range b.List() {
		ids = append(ids, x.ID)
	}
	if strings.Join(ids, ",") != "admin,ops,temp" {
		t.Errorf("list: %v", ids)
	}

	// A write that fails changes nothing.
	os.Remove(path)
	os.Mkdir(path, 0o755) // the rename onto a directory fails
	if _, err := b.Add(App{ID: "late", Secret: "l", Enabled: true}); err == nil {
		t.Fatal("add succeeded although the file cannot be written")
	}
	if _, ok := b.Lookup("late"); ok || b.Check("late", "l") {
		t.Error("a change whose write failed took effect")
	}

	os.WriteFile(filepath.Join(filepath.Dir(path), "bad.json"), []byte("[{"), 0o600)
	if _, err := OpenApps(filepath.Join(filepath.Dir(path), "bad.json"), def); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged file: %v", err)
	}
}

// TestAppsCommand: emqx_ctl mgmt's subcommands and their EMQX 3.2 output.
func TestAppsCommand(t *testing.T) {
	a, err := OpenApps(filepath.Join(t.TempDir(), "apps.json"), App{ID: "admin", Secret: "public", Name: "Default", Desc: "d", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, code := a.Command(args)
		if code != wantCode {
			t.Fatalf("mgmt %v: exit %d, want %d: %q", args, code, wantCode, out)
		}
		return out
	}
	out := run(0, "insert", "dash", "Dashboard")
	secret, ok := strings.CutPrefix(strings.TrimSpace(out), "AppSecret: ")
	if !ok || secret == "" || !a.Check("dash", secret) {
		t.Fatalf("insert: %q", out)
	}
	if out := run(1, "insert", "dash", "Again"); out != "Error: already existed\n" {
		t.Errorf("insert twice: %q", out)
	}
	want := "app_id: dash\nsecret: " + secret + "\nname: Dashboard\ndesc: Application user\nstatus: true\nexpired: undefined\n"
	if out := run(0, "lookup", "dash"); out != want {
		t.Errorf("lookup:\n%q\nwant\n%q", out, want)
	}
	if out := run(1, "lookup", "nosuch"); out != "Not Found.\n" {
		t.Errorf("lookup nosuch: %q", out)
	}
	if out := run(0, "update", "dash", "false"); out != "update successfully.\n" || a.Check("dash", secret) {
		t.Errorf("update false: %q (still logs in: %t)", out, a.Check("dash", secret))
	}
	run(1, "update", "dash", "maybe")
	if out := run(1, "update", "nosuch", "true"); out != "Error: not_found\n" {
		t.Errorf("update nosuch: %q", out)
	}
	if out := run(1, "update", "admin", "false"); !strings.Contains(out, "management.default_application") {
		t.Errorf("update admin: %q", out)
	}
	want = "app_id: admin, secret: public, name: Default, desc: d, status: true, expired: undefined\n" +
		"app_id: dash, secret: " + secret + ", name: Dashboard, desc: Application user, status: false, expired: undefined\n"
	if out := run(0, "list"); out != want {
		t.Errorf("list:\n%q\nwant\n%q", out, want)
	}
	if out := run(0, "delete", "dash"); out != "ok\n" {
		t.Errorf("delete: %q", out)
	}
	if out := run(1, "delete", "dash"); out != "Error: app not found\n" {
		t.Errorf("delete again: %q", out)
	}
	if out := run(1, "frobnicate"); !strings.Contains(out, "mgmt insert <AppId> <Name>") {
		t.Errorf("usage: %q", out)
	}
}

// TestAppsAPI: /api/v4/apps creates, lists, shows, updates and deletes applications, and an
// application logs in exactly while it exists, is enabled and has not expired.
func TestAppsAPI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	apps, err := OpenApps(path, testApp)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, func(o *Options) { o.Apps = apps })
	as := func(id, secret, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}

	status, b := e.do(t, "POST", "/api/v4/apps", `{"app_id":"bot","name":"Bot","desc":"a bot","status":true}`, true)
	var created struct {
		Code int
		Data struct{ Secret string }
	}
	if json.Unmarshal(b, &created); status != 200 || created.Code != 0 || created.Data.Secret == "" {
		t.Fatalf("create: %d %s", status, b)
	}
	secret := created.Data.Secret
	if status, b := as("bot", secret, "GET", "/api/v4/brokers", ""); status != 200 {
		t.Fatalf("the new application cannot log in: %d %s", status, b)
	}
	e.refused(t, "POST", "/api/v4/apps", `{"app_id":"bot","name":"x"}`, 400, codeParamType, "already exists")
	e.refused(t, "POST", "/api/v4/apps", `{"name":"x"}`, 400, codeMissingParam, `"app_id"`)
	e.refused(t, "POST", "/api/v4/apps", `{"app_id":"a:b"}`, 400, codeParamType, "colon")
	e.refused(t, "POST", "/api/v4/apps", `{"app_id":"z","status":"yes"}`, 400, codeParamType, `"status"`)
	e.refused(t, "POST", "/api/v4/apps", `{"app_id":"z","owner":"me"}`, 400, codeParamType, `unknown field "owner"`)
	e.refused(t, "POST", "/api/v4/apps", `{"app_id":"z","expired":"soon"}`, 400, codeParamType, `"expired"`)
	if _, ok := apps.Lookup("z"); ok {
		t.Fatal("a refused create added the application")
	}

	var list []map[string]any
	e.getData(t, "/api/v4/apps", &list)
	if len(list) != 2 || list[0]["app_id"] != "user" || list[1]["app_id"] != "bot" || list[1]["desc"] != "a bot" ||
		list[1]["expired"] != "undefined" || list[1]["status"] != true || list[1]["secret"] != nil {
		t.Fatalf("list: %v", list)
	}
	var one map[string]any
	e.getData(t, "/api/v4/apps/bot", &one)
	if one["secret"] != secret || one["name"] != "Bot" {
		t.Fatalf("lookup: %v", one)
	}
	e.refused(t, "GET", "/api/v4/apps/nosuch", "", 404, codeNotFound, "nosuch")

	e.refused(t, "PUT", "/api/v4/apps/bot", `{"status":"off"}`, 400, codeParamType, `"status"`)
	e.refused(t, "PUT", "/api/v4/apps/bot", `{"secret":"new"}`, 400, codeParamType, `unknown field "secret"`)
	e.refused(t, "PUT", "/api/v4/apps/nosuch", `{"status":false}`, 404, codeNotFound, "nosuch")
	e.refused(t, "PUT", "/api/v4/apps/user", `{"status":false}`, 400, codeParamType, "default_application")
	if status, b := e.do(t, "PUT", "/api/v4/apps/bot", `{"status":false,"name":"Bot 2"}`, true); status != 200 || string(b) != "{\"code\":0}\n" {
		t.Fatalf("update: %d %s", status, b)
	}
	if status, _ := as("bot", secret, "GET", "/api/v4/brokers", ""); status != 401 {
		t.Fatalf("a disabled application: %d, want 401", status)
	}
	past := time.Now().Add(-time.Minute).Unix()
	body, _ := json.Marshal(map[string]any{"status": true, "expired": past})
	e.do(t, "PUT", "/api/v4/apps/bot", string(body), true)
	if status, _ := as("bot", secret, "GET", "/api/v4/brokers", ""); status != 401 {
		t.Fatalf("an expired application: %d, want 401", status)
	}
	e.do(t, "PUT", "/api/v4/apps/bot", `{"expired":"undefined"}`, true)
	if status, _ := as("bot", secret, "GET", "/api/v4/brokers", ""); status != 200 {
		t.Fatalf("enabled again: %d, want 200", status)
	}
	e.getData(t, "/api/v4/apps/bot", &one)
	if one["name"] != "Bot 2" || one["status"] != true || one["expired"] != "undefined" {
		t.Fatalf("after updates: %v", one)
	}

	// The change is in the file: a node restarted on it lets bot in.
	again, err := OpenApps(path, testApp)
	if err != nil || !again.Check("bot", secret) {
		t.Fatalf("reopened file: %v", err)
	}

	if status, _ := e.do(t, "DELETE", "/api/v4/apps/bot", "", true); status != 200 {
		t.Fatalf("delete: %d", status)
	}
	if status, _ := as("bot", secret, "GET", "/api/v4/brokers", ""); status != 401 {
		t.Fatalf("a deleted application: %d, want 401", status)
	}
	e.refused(t, "DELETE", "/api/v4/apps/bot", "", 404, codeNotFound, "bot")
	e.refused(t, "DELETE", "/api/v4/apps/user", "", 400, codeParamType, "default_application")
}
