package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminsFileAndCtl: emqx_ctl admins add|passwd|del answer as EMQX does, every change is
// in data/admins.json (mode 0600, bcrypt hashes, no password in clear) and survives a reopen.
func TestAdminsFileAndCtl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "admins.json")
	a, err := OpenAdmins(path)
	if err != nil {
		t.Fatal(err)
	}
	if added, err := a.AddDefault("admin", "public"); !added || err != nil {
		t.Fatalf("AddDefault on an empty file: %v %v", added, err)
	}
	f := func(args string, want string, code int) {
		t.Helper()
		out, c := a.Command(strings.Fields(args))
		if out != want || c != code {
			t.Fatalf("admins %s: %q (%d), want %q (%d)", args, out, c, want, code)
		}
	}
	f("add bob secret1 ops", "ok\n", 0)
	f("add bob other", "Error: already existed\n", 1)
	f("passwd bob secret2", "ok\n", 0)
	f("passwd nobody x", "Error: not_found\n", 1)
	f("del nobody", "Error: not_found\n", 1)
	if out, c := a.Command([]string{"frob"}); c != 1 || !strings.Contains(out, "admins add <Username> <Password> <Tags>") {
		t.Fatalf("usage: %q %d", out, c)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admins.json: %v mode %v, want 0600", err, st.Mode())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "secret2") || strings.Contains(string(data), "public") || !strings.Contains(string(data), `"$2`) {
		t.Fatalf("admins.json holds clear passwords or no bcrypt hash:\n%s", data)
	}
	b, err := OpenAdmins(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check("bob", "secret2"); err != nil {
		t.Fatalf("bob's new password after reopen: %v", err)
	}
	if err := b.Check("bob", "secret1"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("bob's old password: %v, want ErrBadPassword", err)
	}
	if added, _ := b.AddDefault("admin", "public"); added {
		t.Fatal("AddDefault added a user to a non-empty file")
	}
	f("del bob", "ok\n", 0)
	f("del admin", "Error: cannot delete the last administrator\n", 1)
}

// TestSessionTokens: a token names its user until it expires, and a password change or the
// user's deletion ends it; a tampered token is refused.
func TestSessionTokens(t *testing.T) {
	a, _ := OpenAdmins("")
	a.Add("admin", "public", "")
	a.Add("bob", "pw", "")
	s := NewSessions(a, time.Hour)
	tok, _ := s.Issue("bob")
	if u, err := s.CheckToken(tok); err != nil || u != "bob" {
		t.Fatalf("fresh token: %q %v", u, err)
	}
	if _, err := s.CheckToken(tok[:len(tok)-2] + "xx"); !errors.Is(err, errTokenSig) {
		t.Fatalf("tampered token: %v", err)
	}
	if _, err := NewSessions(a, time.Hour).CheckToken(tok); !errors.Is(err, errTokenSig) {
		t.Fatalf("token of another key (a restart): %v", err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := s.CheckToken(tok); !errors.Is(err, errTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	s.now = time.Now
	a.SetPassword("bob", "new")
	if _, err := s.CheckToken(tok); !errors.Is(err, errTokenRevoked) {
		t.Fatalf("token after a password change: %v", err)
	}
	tok, _ = s.Issue("bob")
	a.Delete("bob")
	if _, err := s.CheckToken(tok); !errors.Is(err, errTokenRevoked) {
		t.Fatalf("token of a deleted user: %v", err)
	}
}

// TestLoginThrottled: over HTTP, five wrong passwords from one address are answered 401,
// the sixth attempt 429 with Retry-After even with the right password; the API behind the
// dashboard sees only requests the dashboard does not answer itself.
func TestLoginThrottled(t *testing.T) {
	a, _ := OpenAdmins("")
	a.Add("admin", "public", "")
	var apiCalls int
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiCalls++; w.WriteHeader(http.StatusTeapot) })
	s := &Server{opts: Options{API: api, Sessions: NewSessions(a, 0)}, throttle: newThrottle()}
	s.opts.Log = discard()
	h := s.routes()
	login := func(pw string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v4/auth", strings.NewReader(`{"username":"admin","password":"`+pw+`"}`))
		h.ServeHTTP(w, r)
		return w
	}
	w := login("public")
	var ok struct{ Data struct{ Token string } }
	if json.Unmarshal(w.Body.Bytes(), &ok); w.Code != 200 || ok.Data.Token == "" {
		t.Fatalf("good login: %d %s", w.Code, w.Body)
	}
	for i := range loginFreeFailures {
		if w := login("wrong"); w.Code != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if w := login("public"); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt after %d failures: %d %s, want 429 with Retry-After", loginFreeFailures, w.Code, w.Body)
	}
	// Users need the token; the API gets the rest.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v4/users", nil))
	if w.Code != 401 {
		t.Fatalf("users without a token: %d", w.Code)
	}
	w = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/v4/users", nil)
	r.Header.Set("Authorization", "Bearer "+ok.Data.Token)
	h.ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"username":"admin"`) {
		t.Fatalf("users with the token: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v4/clients", nil))
	if w.Code != http.StatusTeapot || apiCalls != 1 {
		t.Fatalf("/api/v4/clients did not reach the API handler: %d, %d calls", w.Code, apiCalls)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "emqgo dashboard") || w.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("index: %d %q", w.Code, w.Body.String()[:min(80, w.Body.Len())])
	}
}
