package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// App is one management application: the HTTP Basic user name (ID) and password (Secret) an
// API client presents (EMQX's "AppId" and "AppSecret").
type App struct {
	ID     string
	Secret string
	Name   string
	Desc   string
	// Enabled is false for an application that exists but may not log in (EMQX's status).
	Enabled bool
	// Expires is when the application stops being accepted; zero: never (EMQX's expired).
	Expires time.Time
	// Default marks the application of management.default_application: it comes from the
	// configuration, is always there and cannot be changed through the API or emqx_ctl.
	Default bool
}

// usable reports whether a may log in at now.
func (a *App) usable(now time.Time) bool {
	return a.Enabled && (a.Expires.IsZero() || now.Before(a.Expires))
}

// Errors of the Apps changes.
var (
	ErrAppExists  = errors.New("httpapi: application already exists")
	ErrNoApp      = errors.New("httpapi: no such application")
	ErrDefaultApp = errors.New("httpapi: the default application comes from management.default_application.id/secret in emqx.conf and cannot be changed here")
)

// Apps is the set of management applications: the default one of the configuration and those
// added at run time (emqx_ctl mgmt, /api/v4/apps). When opened on a file (OpenApps) every
// change is written to it before it takes effect. Safe for concurrent use; checks never wait
// for a change being written.
type Apps struct {
	def  App // ID "": none
	path string

	wmu sync.Mutex // serialises changes (and their file writes)
	mu  sync.RWMutex
	set map[string]App // the added applications; replaced, never modified, under mu
}

// NewApps returns a set holding apps, in memory only (tests, or no data directory).
func NewApps(apps ...App) *Apps {
	a := &Apps{set: make(map[string]App, len(apps))}
	for _, app := range apps {
		a.set[app.ID] = app
	}
	return a
}

// OpenApps loads the applications kept in path (a missing file is none) and keeps the file up
// to date with every later change. def, when its ID is not empty, is the default application:
// always accepted while enabled, listed first, never written to the file. The file holds the
// secrets as given (EMQX shows them in `mgmt lookup` and GET /api/v4/apps/{id}), so it is
// created with mode 0600 and replaced atomically.
func OpenApps(path string, def App) (*Apps, error) {
	a := &Apps{path: path, set: map[string]App{}}
	if def.ID != "" {
		def.Default = true
		a.def = def
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the management applications: %w", err)
	}
	var recs []appRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("management applications file %s is damaged: %w", path, err)
	}
	for i, r := range recs {
		if err := validAppID(r.ID); err != nil || r.Secret == "" {
			return nil, fmt.Errorf("management applications file %s: entry %d (%q) is not a valid application", path, i+1, r.ID)
		}
		app := App{ID: r.ID, Secret: r.Secret, Name: r.Name, Desc: r.Desc, Enabled: r.Status}
		if r.Expired > 0 {
			app.Expires = time.Unix(r.Expired, 0)
		}
		if r.ID != a.def.ID {
			a.set[r.ID] = app
		}
	}
	return a, nil
}

// appRecord is one application in the file.
type appRecord struct {
	ID      string `json:"app_id"`
	Secret  string `json:"secret"`
	Name    string `json:"name"`
	Desc    string `json:"desc"`
	Status  bool   `json:"status"`
	Expired int64  `json:"expired,omitempty"` // Unix seconds
}

// Check says whether id and secret are those of an enabled, unexpired application. It takes
// the same time whatever the secret, and compares with the default application and the added
// one alike.
func (a *Apps) Check(id, secret string) bool {
	a.mu.RLock()
	app, ok := a.set[id]
	a.mu.RUnlock()
	now := time.Now()
	got := sha256.Sum256([]byte(secret))
	want := sha256.Sum256([]byte(app.Secret))
	wantDef := sha256.Sum256([]byte(a.def.Secret))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	matchDef := subtle.ConstantTimeCompare(wantDef[:], got[:]) == 1
	isDef := a.def.ID != "" && subtle.ConstantTimeCompare([]byte(a.def.ID), []byte(id)) == 1
	return (isDef && matchDef && a.def.usable(now)) || (ok && match && app.usable(now))
}

// List returns the applications: the default one first, then the others by id (copies).
func (a *Apps) List() []App {
	a.mu.RLock()
	out := slices.Collect(maps.Values(a.set))
	a.mu.RUnlock()
	slices.SortFunc(out, func(x, y App) int { return strings.Compare(x.ID, y.ID) })
	if a.def.ID != "" {
		out = slices.Insert(out, 0, a.def)
	}
	return out
}

// Lookup returns the application id.
func (a *Apps) Lookup(id string) (App, bool) {
	if a.def.ID != "" && id == a.def.ID {
		return a.def, true
	}
	a.mu.RLock()
	app, ok := a.set[id]
	a.mu.RUnlock()
	return app, ok
}

// Add adds app, with a generated secret when app.Secret is empty, and returns it as added.
// It fails with ErrAppExists, a validation error naming the field, or the file's write error
// (then nothing changed).
func (a *Apps) Add(app App) (App, error) {
	if err := validAppID(app.ID); err != nil {
		return App{}, err
	}
	if app.Secret == "" {
		app.Secret = newSecret()
	}
	app.Default = false
	err := a.change(func(m map[string]App) error {
		if _, ok := m[app.ID]; ok || app.ID == a.def.ID {
			return fmt.Errorf("%w: %q", ErrAppExists, app.ID)
		}
		m[app.ID] = app
		return nil
	})
	if err != nil {
		return App{}, err
	}
	return app, nil
}

// Update applies f to the application id (f may change anything but its id). It fails with
// ErrNoApp, ErrDefaultApp, f's error, or the file's write error (then nothing changed).
func (a *Apps) Update(id string, f func(*App) error) error {
	if a.def.ID != "" && id == a.def.ID {
		return ErrDefaultApp
	}
	return a.change(func(m map[string]App) error {
		app, ok := m[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrNoApp, id)
		}
		if err := f(&app); err != nil {
			return err
		}
		app.ID = id
		m[id] = app
		return nil
	})
}

// Delete removes the application id: it may no longer log in.
func (a *Apps) Delete(id string) error {
	if a.def.ID != "" && id == a.def.ID {
		return ErrDefaultApp
	}
	return a.change(func(m map[string]App) error {
		if _, ok := m[id]; !ok {
			return fmt.Errorf("%w: %q", ErrNoApp, id)
		}
		delete(m, id)
		return nil
	})
}

// change applies f to a copy of the set, writes the copy to the file, then publishes it.
func (a *Apps) change(f func(m map[string]App) error) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.mu.RLock()
	m := maps.Clone(a.set)
	a.mu.RUnlock()
	if err := f(m); err != nil {
		return err
	}
	if a.path != "" {
		if err := writeApps(a.path, m); err != nil {
			return fmt.Errorf("cannot write the management applications to %s: %w", a.path, err)
		}
	}
	a.mu.Lock()
	a.set = m
	a.mu.Unlock()
	return nil
}

// writeApps replaces the file with m, atomically: a synced temporary file of mode 0600
// renamed over it, then the directory synced.
func writeApps(path string, m map[string]App) error {
	recs := make([]appRecord, 0, len(m))
	for _, app := range m {
		r := appRecord{ID: app.ID, Secret: app.Secret, Name: app.Name, Desc: app.Desc, Status: app.Enabled}
		if !app.Expires.IsZero() {
			r.Expired = app.Expires.Unix()
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(x, y appRecord) int { return strings.Compare(x.ID, y.ID) })
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// validAppID refuses ids HTTP Basic cannot carry or a terminal would garble: empty, longer
// than 128 bytes, with a colon, white space or a control character.
func validAppID(id string) error {
	if id == "" {
		return errors.New(`application id ("app_id") is empty`)
	}
	if len(id) > 128 {
		return fmt.Errorf("application id %.20q… is longer than 128 bytes", id)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("application id %q has a colon, white space or a control character", id)
	}
	return nil
}

// newSecret returns a random secret of 192 bits, URL-safe base64.
func newSecret() string {
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
