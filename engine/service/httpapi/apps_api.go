package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// appJSON is an application in /api/v4/apps answers, as EMQX 4 shows it: "expired" is Unix
// seconds or "undefined"; the secret only when one application is asked for.
type appJSON struct {
	ID      string `json:"app_id"`
	Secret  string `json:"secret,omitempty"`
	Name    string `json:"name"`
	Desc    string `json:"desc"`
	Status  bool   `json:"status"`
	Expired any    `json:"expired"`
}

func appOf(app *App, secret bool) appJSON {
	j := appJSON{ID: app.ID, Name: app.Name, Desc: app.Desc, Status: app.Enabled, Expired: "undefined"}
	if secret {
		j.Secret = app.Secret
	}
	if !app.Expires.IsZero() {
		j.Expired = app.Expires.Unix()
	}
	return j
}

// listApps is GET /api/v4/apps: every application without its secret.
func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	apps := s.opts.Apps.List()
	out := make([]appJSON, len(apps))
	for i := range apps {
		out[i] = appOf(&apps[i], false)
	}
	writeData(w, out)
}

// lookupApp is GET /api/v4/apps/{appid}: one application with its secret.
func (s *Server) lookupApp(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("appid")
	app, ok := s.opts.Apps.Lookup(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no application %q", id))
		return
	}
	writeData(w, appOf(&app, true))
}

var (
	addAppFields    = []string{"app_id", "secret", "name", "desc", "status", "expired"}
	updateAppFields = []string{"name", "desc", "status", "expired"}
)

// appFields reads the members of an add (add true) or update body into app; absent members
// leave app as it is.
func appFields(obj map[string]json.RawMessage, app *App, add bool) error {
	known := updateAppFields
	if add {
		known = addAppFields
	}
	for name := range obj {
		if !slices.Contains(known, name) {
			return badParam(codeParamType, "unknown field %q (known: %s)", name, strings.Join(known, ", "))
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"app_id", &app.ID}, {"secret", &app.Secret}, {"name", &app.Name}, {"desc", &app.Desc}} {
		v, ok, err := fieldString(obj, f.name)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = v
		}
	}
	if v, ok, err := fieldBool(obj, "status"); err != nil {
		return err
	} else if ok {
		app.Enabled = v
	}
	if raw, ok := obj["expired"]; ok {
		switch s := string(raw); {
		case s == "null" || s == `"undefined"`:
			app.Expires = time.Time{}
		default:
			n, _, err := fieldInt(obj, "expired", 1, 1<<40)
			if err != nil {
				return badParam(codeParamType, "field \"expired\" must be Unix seconds, \"undefined\" or null, got %s", truncate(raw))
			}
			app.Expires = time.Unix(n, 0)
		}
	}
	return nil
}

// addApp is POST /api/v4/apps: {"app_id", "name", "secret" (generated when absent), "desc",
// "status" (default true), "expired"}; the answer's data is {"secret"}.
func (s *Server) addApp(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	app := App{Enabled: true}
	if err := appFields(obj, &app, true); err != nil {
		writeParamError(w, err)
		return
	}
	if _, ok := obj["app_id"]; !ok {
		writeError(w, http.StatusBadRequest, codeMissingParam, `field "app_id" is required`)
		return
	}
	if err := validAppID(app.ID); err != nil {
		writeError(w, http.StatusBadRequest, codeParamType, err.Error())
		return
	}
	added, err := s.opts.Apps.Add(app)
	if err != nil {
		writeAppsError(w, err)
		return
	}
	writeData(w, struct {
		Secret string `json:"secret"`
	}{added.Secret})
}

// updateApp is PUT /api/v4/apps/{appid}: any of "name", "desc", "status", "expired".
func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	// Check the body before taking the change, so that a bad body changes nothing.
	if err := appFields(obj, &App{}, false); err != nil {
		writeParamError(w, err)
		return
	}
	err = s.opts.Apps.Update(r.PathValue("appid"), func(app *App) error { return appFields(obj, app, false) })
	if err != nil {
		writeAppsError(w, err)
		return
	}
	writeOK(w)
}

// deleteApp is DELETE /api/v4/apps/{appid}.
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Apps.Delete(r.PathValue("appid")); err != nil {
		writeAppsError(w, err)
		return
	}
	writeOK(w)
}

// writeAppsError answers a refused change of the applications.
func writeAppsError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoApp):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, ErrAppExists), errors.Is(err, ErrDefaultApp):
		writeError(w, http.StatusBadRequest, codeParamType, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeUnknown, err.Error())
	}
}
