package plugins

import (
	"context"
	"sync"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
)

// monitors holds one backend.Monitor per backend plugin, created when the plugin first starts
// and kept for the manager's lifetime: counters go on across unload, load and reload, and an
// outage alarm stays raised until the backend answers (or the plugin is unloaded). Safe for
// concurrent use.
type monitors struct {
	mu     sync.Mutex
	byName map[string]*backend.Monitor
	order  []string // plugin names, in the order their monitors were made
	alarms backend.Alarms
}

// get returns the monitor of plugin (backendName is what log lines and alarms call its
// backend: "redis", "ldap"), made now if it is the plugin's first start.
func (ms *monitors) get(plugin, backendName string, e *Env) *backend.Monitor {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.byName[plugin]; m != nil {
		m.SetLog(e.Log)
		m.Open()
		return m
	}
	if ms.byName == nil {
		ms.byName = map[string]*backend.Monitor{}
	}
	m := backend.New(plugin, backendName, e.Log)
	m.SetAlarms(ms.alarms)
	ms.byName[plugin] = m
	ms.order = append(ms.order, plugin)
	return m
}

// setAlarms gives every monitor, present and future, where to raise its alarm.
func (ms *monitors) setAlarms(a backend.Alarms) {
	ms.mu.Lock()
	ms.alarms = a
	list := make([]*backend.Monitor, 0, len(ms.order))
	for _, n := range ms.order {
		list = append(list, ms.byName[n])
	}
	ms.mu.Unlock()
	for _, m := range list {
		m.SetAlarms(a)
	}
}

// closeOne clears the alarm of plugin's monitor, if any (the plugin was unloaded).
func (ms *monitors) closeOne(plugin string) {
	ms.mu.Lock()
	m := ms.byName[plugin]
	ms.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// metrics returns every monitor's counters, plugins in the order they first started.
func (ms *monitors) metrics() []engine.Metric {
	ms.mu.Lock()
	list := make([]*backend.Monitor, 0, len(ms.order))
	for _, n := range ms.order {
		list = append(list, ms.byName[n])
	}
	ms.mu.Unlock()
	var out []engine.Metric
	for _, m := range list {
		for _, x := range m.Metrics() {
			out = append(out, engine.Metric{Name: x.Name, Value: x.Value})
		}
	}
	return out
}

// Monitor returns the backend monitor of plugin, or nil when the plugin has not started since
// the manager was made (or has no backend).
func (m *Manager) Monitor(plugin string) *backend.Monitor {
	m.mons.mu.Lock()
	defer m.mons.mu.Unlock()
	return m.mons.byName[plugin]
}

// SetAlarms gives the backend plugins the node's alarm registry (the $SYS service), which
// starts after them: an outage raises an alarm there while it lasts. Safe for concurrent use.
func (m *Manager) SetAlarms(a backend.Alarms) { m.mons.setAlarms(a) }

// Metrics returns the counters of the backend plugins under EMQX's names (auth.ldap.success,
// acl.ldap.deny...) and the backend's (backend.ldap.timeouts...), for engine.Node.AddMetrics.
// Safe for concurrent use.
func (m *Manager) Metrics() []engine.Metric { return m.mons.metrics() }

// countedAuthn counts an authenticator's decisions on its plugin's monitor.
type countedAuthn struct {
	engine.Authenticator
	mon *backend.Monitor
}

func (c countedAuthn) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	r := c.Authenticator.Authenticate(ctx, ci)
	c.count(r)
	return r
}

func (c countedAuthn) count(r engine.AuthResult) {
	switch r.Decision {
	case engine.AuthAllow:
		c.mon.Inc(backend.AuthSuccess)
	case engine.AuthDeny:
		c.mon.Inc(backend.AuthFailure)
	default:
		c.mon.Inc(backend.AuthIgnore)
	}
}

// countedAsyncAuthn is countedAuthn of an asynchronous authenticator.
type countedAsyncAuthn struct {
	countedAuthn
	async engine.AsyncAuthenticator
}

func (c countedAsyncAuthn) AuthenticateAsync(deadline time.Time, ci *engine.ClientInfo, done func(engine.AuthResult)) {
	c.async.AuthenticateAsync(deadline, ci, func(r engine.AuthResult) {
		c.count(r)
		done(r)
	})
}

// countedAuthz counts an authorizer's decisions on its plugin's monitor.
type countedAuthz struct {
	engine.Authorizer
	mon *backend.Monitor
}

func (c countedAuthz) Authorize(ctx context.Context, ci *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	d := c.Authorizer.Authorize(ctx, ci, access, topic)
	switch d {
	case engine.AuthAllow:
		c.mon.Inc(backend.ACLAllow)
	case engine.AuthDeny:
		c.mon.Inc(backend.ACLDeny)
	default:
		c.mon.Inc(backend.ACLIgnore)
	}
	return d
}

// counted wraps a plugin's links so that their decisions are counted on mon.
func counted(authn engine.Authenticator, authz engine.Authorizer, mon *backend.Monitor) (engine.Authenticator, engine.Authorizer) {
	if a, ok := authn.(engine.AsyncAuthenticator); ok {
		authn = countedAsyncAuthn{countedAuthn{authn, mon}, a}
	} else if authn != nil {
		authn = countedAuthn{authn, mon}
	}
	if authz != nil {
		authz = countedAuthz{authz, mon}
	}
	return authn, authz
}

// managerAlarms passes the alarms of plugins that are no backend (bridge backlogs) to the
// registry of SetAlarms, dropping them while there is none.
type managerAlarms struct{ ms *monitors }

func (a managerAlarms) current() backend.Alarms {
	a.ms.mu.Lock()
	defer a.ms.mu.Unlock()
	return a.ms.alarms
}

func (a managerAlarms) Raise(name, message string, details map[string]any) bool {
	if r := a.current(); r != nil {
		return r.Raise(name, message, details)
	}
	return false
}

func (a managerAlarms) Clear(name string) bool {
	if r := a.current(); r != nil {
		return r.Clear(name)
	}
	return false
}
