package main

import (
	"net/http"
	"path/filepath"
	"sync/atomic"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/dashboard"
)

// adminsFile is where the dashboard's administrators are kept, in the data directory.
const adminsFile = "admins.json"

// openAdmins opens data/admins.json and the sessions issued to its users (for the dashboard,
// `emqx_ctl admins` and the HTTP API's bearer tokens).
func openAdmins(cfg *config.Config) (*dashboard.Sessions, error) {
	admins, err := dashboard.OpenAdmins(filepath.Join(cfg.Node.DataDir, adminsFile))
	if err != nil {
		return nil, err
	}
	return dashboard.NewSessions(admins, 0), nil
}

// lateHandler is the HTTP API's handler as the dashboard mounts it: the dashboard plugin
// starts with the other plugins, before the API (which lists the plugins) exists; until set,
// API requests get 503.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"code":102,"message":"the node is starting: try again in a moment"}` + "\n"))
}
