package httpapi

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// memUsers is a UserStore in memory.
type memUsers struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memUsers) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (s *memUsers) Add(n, pw string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[n]; ok {
		return fmt.Errorf("store: %w", ErrUserExists)
	}
	s.m[n] = pw
	return nil
}

func (s *memUsers) Update(n, pw string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[n]; !ok {
		return ErrUserNotFound
	}
	s.m[n] = pw
	return nil
}

func (s *memUsers) Delete(n string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[n]; !ok {
		return ErrUserNotFound
	}
	delete(s.m, n)
	return nil
}

// onlyUsername has emqx_auth_username loaded, not emqx_auth_clientid.
type onlyUsername struct{ s *memUsers }

func (o onlyUsername) Users(kind string) UserStore {
	if kind == "username" {
		return o.s
	}
	return nil
}

// TestAuthUsers: add, list, show, update, delete a user of emqx_auth_username; a duplicate is
// refused, a missing one is 404, and a plugin not loaded is 404 naming it.
func TestAuthUsers(t *testing.T) {
	st := &memUsers{m: map[string]string{}}
	e := start(t, func(o *Options) { o.AuthUsers = onlyUsername{st} })
	f := func(method, path, body string, wantStatus int, want string) {
		t.Helper()
		status, b := e.do(t, method, path, body, true)
		if status != wantStatus || !strings.Contains(string(b), want) {
			t.Fatalf("%s %s %s: %d %s, want %d with %q", method, path, body, status, b, wantStatus, want)
		}
	}
	f("POST", "/api/v4/auth_username", `{"username":"bob","password":"pw"}`, 200, `{"code":0}`)
	f("POST", "/api/v4/auth_username", `{"username":"bob","password":"pw"}`, 400, "bob already exists")
	f("POST", "/api/v4/auth_username", `{"username":"carl"}`, 400, `field \"password\" is required`)
	f("GET", "/api/v4/auth_username", "", 200, `"data":["bob"]`)
	f("GET", "/api/v3/auth_username/bob", "", 200, `"username":"bob"`)
	f("PUT", "/api/v4/auth_username/bob", `{"password":"new"}`, 200, `{"code":0}`)
	if st.m["bob"] != "new" {
		t.Fatalf("bob's password is %q after the update", st.m["bob"])
	}
	f("PUT", "/api/v4/auth_username/nobody", `{"password":"x"}`, 404, "username nobody not found")
	f("DELETE", "/api/v4/auth_username/bob", "", 200, `{"code":0}`)
	f("GET", "/api/v4/auth_username/bob", "", 404, "not found")
	f("GET", "/api/v4/auth_clientid", "", 404, "plugin emqx_auth_clientid is not loaded")
}
