// Package plugins loads and unloads the broker's plugins the EMQX way: each reads
// etc/plugins/<name>.conf (see Conf), `emqx_ctl plugins list|load|unload|reload` drive them,
// the set of loaded plugins is remembered in data/loaded_plugins, and EMQX_LOADED_PLUGINS
// names plugins to load at start. A loaded plugin's authenticators and authorizers join the
// node's chains in load order.
package plugins

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/backend"
)

// Chains is the part of engine.Node the manager drives.
type Chains interface {
	SetAuthenticators(chain ...engine.Authenticator)
	SetAuthorizers(chain ...engine.Authorizer)
	SetPSKLookup(f engine.PSKLookup)
}

// Errors of Load, Unload and Reload, printed by emqx_ctl as EMQX does.
var (
	ErrNotFound       = errors.New("not_found")
	ErrAlreadyStarted = errors.New("already_started")
	ErrNotStarted     = errors.New("not_started")
)

// Manager holds the loaded plugins of one node. Safe for concurrent use (the control server
// calls it from its goroutines); loads and unloads are serialised.
type Manager struct {
	mu         sync.Mutex
	chains     Chains
	env        Env
	loadedFile string
	log        *slog.Logger
	order      []string // loaded plugins, in load order
	running    map[string]*Instance
	file       []loadedEntry // data/loaded_plugins as last read or written
	mons       monitors      // backend plugins' counters, outage logs and alarms
}

// New returns a manager with nothing loaded. loadedFile is plugins.loaded_file.
func New(chains Chains, env Env, loadedFile string, log *slog.Logger) *Manager {
	if env.Log == nil {
		env.Log = log
	}
	m := &Manager{chains: chains, env: env, loadedFile: loadedFile, log: log, running: map[string]*Instance{}}
	m.env.monitor = func(plugin, backendName string) *backend.Monitor { return m.mons.get(plugin, backendName, &m.env) }
	if m.env.Alarms == nil {
		m.env.Alarms = managerAlarms{&m.mons} // the registry SetAlarms gives, when it gives one
	}
	return m
}

// LoadedPluginsEnv is the variable that names plugins to load at start, separated by commas
// or spaces, as EMQX's container images take it.
const LoadedPluginsEnv = "EMQX_LOADED_PLUGINS"

// Start loads the plugins data/loaded_plugins marks true, in its order, then the Env's
// Defaults the file does not name, then those of EMQX_LOADED_PLUGINS (value envList), which
// are also recorded in the file. A name this build
// does not know, or a plugin that fails to start, is an error: a node must not come up without
// the authentication its operator asked for. Names in the file of plugins of later work (an
// EMQX file lists emqx_management, emqx_dashboard...) are skipped with a warning.
func (m *Manager) Start(envList string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	entries, err := readLoaded(m.loadedFile)
	if err != nil {
		return err
	}
	m.file = entries
	var want []string
	for _, e := range entries {
		if !e.active {
			continue
		}
		p := registry[e.name]
		switch {
		case p == nil:
			m.log.Warn("loaded_plugins names an unknown plugin; skipped", "file", m.loadedFile, "line", e.line, "plugin", e.name)
		case p.Builtin != "":
		case p.Later != "":
			m.log.Warn("plugin "+p.notAvailable()+"; skipped", "file", m.loadedFile, "line", e.line, "plugin", e.name)
		default:
			want = append(want, e.name)
		}
	}
	for _, name := range m.env.Defaults {
		if !slices.ContainsFunc(entries, func(e loadedEntry) bool { return e.name == name }) && !slices.Contains(want, name) {
			want = append(want, name)
		}
	}
	for _, name := range strings.FieldsFunc(envList, func(r rune) bool { return r == ',' || r == ' ' }) {
		p := registry[name]
		switch {
		case p == nil:
			return fmt.Errorf("%s names unknown plugin %q (known: %s)", LoadedPluginsEnv, name, strings.Join(Names(), ", "))
		case p.Builtin != "":
		case p.Later != "":
			return fmt.Errorf("%s: plugin %s is %s", LoadedPluginsEnv, name, p.notAvailable())
		case !slices.Contains(want, name):
			want = append(want, name)
		}
	}
	for _, name := range want {
		if err := m.load(name); err != nil {
			return fmt.Errorf("cannot load plugin %s: %w", name, err)
		}
		m.log.Info("plugin loaded", "plugin", name)
	}
	return m.remember()
}

// Load starts the plugin name and appends its links to the chains.
func (m *Manager) Load(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.load(name); err != nil {
		return err
	}
	return m.remember()
}

func (m *Manager) load(name string) error {
	p := registry[name]
	switch {
	case p == nil:
		return ErrNotFound
	case p.Builtin != "" || m.running[name] != nil:
		return ErrAlreadyStarted
	case p.Later != "":
		return errors.New(p.notAvailable())
	}
	inst, err := p.start(&m.env)
	if err != nil {
		return err
	}
	m.running[name] = inst
	m.order = append(m.order, name)
	m.install()
	return nil
}

// Unload removes the plugin's links from the chains and stops it.
func (m *Manager) Unload(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := registry[name]
	switch {
	case p == nil:
		return ErrNotFound
	case p.Builtin != "":
		return errors.New("built in: " + p.Builtin)
	case m.running[name] == nil:
		return ErrNotStarted
	}
	inst := m.running[name]
	delete(m.running, name)
	m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == name })
	m.install()
	if inst.Close != nil {
		inst.Close()
	}
	m.mons.closeOne(name)
	return m.remember()
}

// Reload restarts a loaded plugin with its configuration read again, keeping its place in the
// chains. When the new configuration fails, the running plugin stays as it was.
func (m *Manager) Reload(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := registry[name]
	switch {
	case p == nil:
		return ErrNotFound
	case p.Builtin != "":
		return nil
	case m.running[name] == nil:
		return ErrNotStarted
	}
	if p.ownsPorts {
		return m.restart(name, p)
	}
	inst, err := p.start(&m.env)
	if err != nil {
		return err
	}
	old := m.running[name]
	m.running[name] = inst
	m.install()
	if old.Close != nil {
		old.Close()
	}
	return nil
}

// restart reloads a plugin that listens on ports: the running instance frees them first, so
// when the new configuration fails the plugin is left unloaded (the error says so).
func (m *Manager) restart(name string, p *Plugin) error {
	if old := m.running[name]; old.Close != nil {
		old.Close()
	}
	inst, err := p.start(&m.env)
	if err == nil {
		m.running[name] = inst
		return nil
	}
	delete(m.running, name)
	m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == name })
	m.install()
	if rerr := m.remember(); rerr != nil {
		m.log.Warn("cannot record the unloaded plugin", "plugin", name, "error", rerr)
	}
	return fmt.Errorf("%w (the plugin was stopped to free its ports: now unloaded)", err)
}

// Loaded lists the loaded plugins in load order.
func (m *Manager) Loaded() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order)
}

// Instance returns the running instance of name, or nil.
func (m *Manager) Instance(name string) *Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running[name]
}

// Close stops every plugin (the node is stopping); the chains are left as they are.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range m.order {
		if c := m.running[name].Close; c != nil {
			c()
		}
	}
}

// install gives the node the chains of the loaded plugins, in load order.
func (m *Manager) install() {
	var authn []engine.Authenticator
	var authz []engine.Authorizer
	var psk engine.PSKLookup
	for _, name := range m.order {
		inst := m.running[name]
		authn = append(authn, inst.Authenticators...)
		authz = append(authz, inst.Authorizers...)
		if inst.PSK != nil {
			psk = inst.PSK
		}
	}
	m.chains.SetPSKLookup(psk)
	m.chains.SetAuthenticators(authn...)
	m.chains.SetAuthorizers(authz...)
}

// remember writes data/loaded_plugins: the file's entries, each known plugin's state updated,
// then the plugins loaded that it did not list.
func (m *Manager) remember() error {
	out := make([]loadedEntry, 0, len(m.file)+len(m.order))
	seen := map[string]bool{}
	for _, e := range m.file {
		if seen[e.name] {
			continue
		}
		seen[e.name] = true
		if p := registry[e.name]; p != nil && p.Later == "" && p.Builtin == "" {
			e.active = m.running[e.name] != nil
		}
		out = append(out, e)
	}
	for _, name := range m.order {
		if !seen[name] && !slices.Contains(m.env.Defaults, name) {
			out = append(out, loadedEntry{name: name, active: true})
		}
	}
	for _, name := range m.env.Defaults { // a default plugin is written down once unloaded
		if !seen[name] && m.running[name] == nil {
			out = append(out, loadedEntry{name: name, active: false})
		}
	}
	if slices.Equal(out, m.file) {
		return nil
	}
	if err := writeLoaded(m.loadedFile, out); err != nil {
		return err
	}
	m.file = out
	return nil
}
