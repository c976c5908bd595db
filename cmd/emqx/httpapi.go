package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/emqgo/emqgo/cmd/internal/plugins"
	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/authuser"
	"github.com/emqgo/emqgo/engine/service/bridge"
	"github.com/emqgo/emqgo/engine/service/cluster"
	"github.com/emqgo/emqgo/engine/service/dashboard"
	"github.com/emqgo/emqgo/engine/service/httpapi"
	"github.com/emqgo/emqgo/engine/service/sys"
)

// appsFile is where the management applications are kept, in the data directory.
const appsFile = "mgmt_apps.json"

// openApps opens the management applications of data/mgmt_apps.json with the default one of
// management.default_application (for `emqx_ctl mgmt` and the HTTP API).
func openApps(cfg *config.Config) (*httpapi.Apps, error) {
	return httpapi.OpenApps(filepath.Join(cfg.Node.DataDir, appsFile), wire.DefaultApp(cfg))
}

// apiDeps are what the HTTP API shows besides the node: the applications, the $SYS service's
// alarms and the plugin manager (services do not import each other; this is the wiring).
type apiDeps struct {
	apps     *httpapi.Apps
	sys      *sys.Service
	plugins  *plugins.Manager
	sessions *dashboard.Sessions // the dashboard's: their tokens are accepted as bearer tokens
	mount    *lateHandler        // receives the API's handler for the dashboard; may be nil
	cluster  *cluster.Service    // nil: this node alone
}

// startHTTPAPI serves the HTTP API and /metrics on management.listener.http (and .https) for node, and
// returns the function that stops it gracefully (bounded by its context). With the key unset
// there is no port to serve and stop does nothing; the dashboard (deps.mount) gets the API's
// handler either way.
func startHTTPAPI(node *engine.Node, cfg *config.Config, log *slog.Logger, deps apiDeps) (stop func(context.Context), err error) {
	opts, ok := wire.HTTPAPI(cfg, log)
	opts.Apps = deps.apps
	if deps.sys != nil {
		opts.Alarms = sysAlarms{deps.sys}
	}
	if deps.plugins != nil {
		opts.Plugins = apiPlugins{deps.plugins}
		opts.AuthUsers = apiUsers{deps.plugins}
		opts.Bridges = apiBridges{deps.plugins}
	}
	if deps.sessions != nil {
		opts.Tokens = deps.sessions
	}
	if deps.cluster != nil {
		opts.Cluster = deps.cluster
	}
	if !ok {
		if deps.mount != nil {
			opts.Log = log
			deps.mount.set(httpapi.NewHandler(node, opts))
		}
		return func(context.Context) {}, nil
	}
	https, notes, err := wire.HTTPSAPI(cfg)
	if err != nil {
		return nil, err
	}
	for _, note := range notes {
		log.Warn(note)
	}
	opts.HTTPS = https
	api, err := httpapi.Start(node, opts)
	if err != nil {
		return nil, err
	}
	if deps.mount != nil {
		deps.mount.set(api.Handler())
	}
	if deps.cluster != nil { // the other nodes' APIs ask this one for its facts
		for _, m := range []string{httpapi.MethodNode, httpapi.MethodBroker, httpapi.MethodStats} {
			deps.cluster.Handle(m, func([]byte) ([]byte, error) { return api.Local(m) })
		}
	}
	if a := api.Addr(); a != "" {
		log.Info("HTTP API listening", "key", "management.listener.http", "address", a)
	}
	if a := api.HTTPSAddr(); a != "" {
		log.Info("HTTP API listening", "key", "management.listener.https", "address", a)
	}
	return func(ctx context.Context) {
		if err := api.Stop(ctx); err != nil {
			log.Warn("HTTP API did not stop cleanly", "error", err)
		}
	}, nil
}

// sysAlarms shows the $SYS service's alarm registry to the HTTP API.
type sysAlarms struct{ s *sys.Service }

func (a sysAlarms) Alarms() (active, cleared []httpapi.Alarm) {
	act, old := a.s.Alarms()
	conv := func(in []sys.Alarm) []httpapi.Alarm {
		out := make([]httpapi.Alarm, len(in))
		for i, x := range in {
			out[i] = httpapi.Alarm{Name: x.Name, Message: x.Message, Details: x.Details, ActivatedAt: x.ActivatedAt, ClearedAt: x.ClearedAt}
		}
		return out
	}
	return conv(act), conv(old)
}

func (a sysAlarms) ClearHistory() { a.s.ClearHistory() }

// apiPlugins shows the plugin manager to the HTTP API.
type apiPlugins struct{ m *plugins.Manager }

func (p apiPlugins) Plugins() []httpapi.Plugin {
	list := p.m.List()
	out := make([]httpapi.Plugin, len(list))
	for i, x := range list {
		out[i] = httpapi.Plugin{Name: x.Name, Version: engine.Version, Description: x.Description, Active: x.Active, Type: x.Type}
	}
	return out
}

func (p apiPlugins) Load(name string) error   { return pluginError(p.m.Load(name)) }
func (p apiPlugins) Unload(name string) error { return pluginError(p.m.Unload(name)) }

// apiUsers shows the user stores of emqx_auth_username and emqx_auth_clientid to the API.
type apiUsers struct{ m *plugins.Manager }

func (u apiUsers) Users(kind string) httpapi.UserStore {
	name := authuser.UsernamePlugin
	if kind == "clientid" {
		name = authuser.ClientIDPlugin
	}
	inst := u.m.Instance(name)
	if inst == nil || inst.Users == nil {
		return nil
	}
	return userStore{inst.Users}
}

// userStore adapts a plugin's store, hashing with its password_hash.
type userStore struct{ a *authuser.Authenticator }

func (s userStore) Names() []string { return s.a.Store().Names() }
func (s userStore) Add(name, pw string) error {
	return userError(s.a.Store().Add(name, []byte(pw), s.a.Spec()))
}
func (s userStore) Update(name, pw string) error {
	return userError(s.a.Store().Update(name, []byte(pw), s.a.Spec()))
}
func (s userStore) Delete(name string) error { return userError(s.a.Store().Delete(name)) }

func userError(err error) error {
	switch {
	case errors.Is(err, authuser.ErrExists):
		return httpapi.ErrUserExists
	case errors.Is(err, authuser.ErrNotFound):
		return httpapi.ErrUserNotFound
	}
	return err
}

// pluginError marks the manager's not_found as the API's.
func pluginError(err error) error {
	if errors.Is(err, plugins.ErrNotFound) {
		return httpapi.ErrPluginNotFound
	}
	return err
}

// apiBridges shows the bridges of emqx_bridge_mqtt while it is loaded.
type apiBridges struct{ m *plugins.Manager }

func (a apiBridges) Bridges() []httpapi.Bridge {
	inst := a.m.Instance(bridge.Name)
	if inst == nil || inst.Bridges == nil {
		return nil
	}
	list := inst.Bridges.Metrics()
	out := make([]httpapi.Bridge, len(list))
	for i, b := range list {
		out[i] = httpapi.Bridge{Name: b.Name, Status: b.Status, Queued: b.Queued, QueuedBytes: b.QueuedBytes,
			OldestAge: b.OldestAge.Seconds(), Sent: b.Sent, Received: b.Received, Dropped: b.Dropped, Reconnects: b.Reconnects}
	}
	return out
}
