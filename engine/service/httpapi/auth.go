package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"
)

// App is one management application: the HTTP Basic user name (ID) and password (Secret) an
// API client presents (EMQX's "AppId" and "AppSecret").
type App struct {
	ID     string `json:"app_id"`
	Secret string `json:"secret"`
	Name   string `json:"name"`
	Desc   string `json:"desc"`
	// Enabled is false for an application that exists but may not log in (EMQX's status).
	Enabled bool `json:"status"`
}

// Apps is the set of management applications. It is safe for concurrent use.
type Apps struct {
	mu   sync.RWMutex
	apps map[string]App
}

// NewApps returns a set holding apps.
func NewApps(apps ...App) *Apps {
	a := &Apps{apps: make(map[string]App, len(apps))}
	for _, app := range apps {
		a.apps[app.ID] = app
	}
	return a
}

// Check says whether id and secret are those of an enabled application. It takes the same
// time whether the id exists or not, and whatever the secret's length.
func (a *Apps) Check(id, secret string) bool {
	a.mu.RLock()
	app, ok := a.apps[id]
	a.mu.RUnlock()
	want := sha256.Sum256([]byte(app.Secret))
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	return ok && app.Enabled && match
}

// authenticate lets a request through to h when it carries the Basic credentials of an
// enabled application; otherwise it answers 401 with EMQX's code (104: none given, 103:
// wrong ones).
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="emqx"`)
			writeError(w, http.StatusUnauthorized, codeNoAuth, "HTTP Basic authentication with an application id and secret is required")
			return
		}
		if !s.opts.Apps.Check(id, secret) {
			w.Header().Set("WWW-Authenticate", `Basic realm="emqx"`)
			writeError(w, http.StatusUnauthorized, codeBadAuth, "application id or secret is wrong")
			return
		}
		h.ServeHTTP(w, r)
	})
}
