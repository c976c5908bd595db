package plugins

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authhttp"
	"github.com/emqgo/emqgo/engine/service/authjwt"
	"github.com/emqgo/emqgo/engine/service/authldap"
	"github.com/emqgo/emqgo/engine/service/authmongo"
	"github.com/emqgo/emqgo/engine/service/authmysql"
	"github.com/emqgo/emqgo/engine/service/authpgsql"
	"github.com/emqgo/emqgo/engine/service/authredis"
	"github.com/emqgo/emqgo/engine/service/authuser"
	"github.com/emqgo/emqgo/engine/service/bridge"
	"github.com/emqgo/emqgo/engine/service/pskfile"
)

// Plugin is one plugin of EMQX's set as this build knows it.
type Plugin struct {
	Name        string
	Description string
	// Later, when not "", says why the plugin cannot be loaded yet (the work that brings it).
	Later string
	// Builtin plugins are part of the broker here: always active, never loaded or unloaded.
	Builtin string
	start   func(e *Env) (*Instance, error)
	// ownsPorts: the instance listens, so a reload stops it before starting the new one.
	ownsPorts bool
}

// Instance is a started plugin: its links of the authentication and access-control chains,
// and what its control commands work on.
type Instance struct {
	Authenticators []engine.Authenticator
	Authorizers    []engine.Authorizer
	Users          *authuser.Authenticator // emqx_auth_username / emqx_auth_clientid
	PSK            engine.PSKLookup        // emqx_psk_file: TLS-PSK keys
	Bridges        *bridge.Set             // emqx_bridge_mqtt
	Close          func()                  // releases its resources; may be nil
}

// Env is what a plugin needs to start: where its files are and the process environment.
type Env struct {
	Home    string   // the node's home: relative paths of plugin files resolve against it
	EtcDir  string   // plugins.etc_dir: overriding etc/plugins/<name>.conf files
	DataDir string   // node.data_dir: durable plugin state (user stores)
	Environ []string // os.Environ form, for the EMQX_ overrides
	// Log receives the plugins' own lines (backend outages); Manager fills it when nil.
	Log *slog.Logger
	// Node is the running node, for plugins that subscribe and publish (emqx_bridge_mqtt);
	// NodeName is its name (${node} in a bridge's mountpoint).
	Node     *engine.Node
	NodeName string
	// Cookie is node.cookie and RPCPort rpc.tcp_client_port: an RPC bridge (address =
	// name@host) logs in to the remote node's RPC listener with the cookie, on RPCPort unless
	// the name says name@host:port.
	Cookie  string
	RPCPort int
	// RPCTLS, when set (cluster.ssl = on: cluster.ssl.*), runs RPC bridges over TLS.
	RPCTLS *tls.Config
	// Alarms receives the alarms plugins raise (bridge backlogs); nil: the registry that
	// Manager.SetAlarms gives.
	Alarms bridge.Alarms
	// monitor returns a backend plugin's monitor; Manager sets it. Without one (a plugin
	// started outside a Manager), a plugin gets a monitor of its own.
	monitor func(plugin, backendName string) *backend.Monitor
	// Defaults are loaded at start unless data/loaded_plugins marks them false (EMQX ships
	// that file with emqx_dashboard in it); the binary passes DashboardPlugin.
	Defaults []string
	// Dashboard is what emqx_dashboard serves; nil: it cannot load.
	Dashboard *DashboardEnv
}

// Monitor returns the monitor of plugin's backend: the manager's, kept across reloads, or a
// new one when e belongs to no manager.
func (e *Env) Monitor(plugin, backendName string) *backend.Monitor {
	if e.monitor != nil {
		return e.monitor(plugin, backendName)
	}
	return backend.New(plugin, backendName, e.Log)
}

const (
	notPlanned = "not planned"
)

// registry lists the plugins of EMQX 3.2 by name.
var registry = func() map[string]*Plugin {
	ps := []*Plugin{
		{Name: authuser.ClientIDPlugin, Description: "Authentication with ClientId/Password", start: startUsers(authuser.ByClientID)},
		{Name: authuser.UsernamePlugin, Description: "Authentication with Username/Password", start: startUsers(authuser.ByUsername)},
		{Name: authjwt.Name, Description: "Authentication with JWT", start: startJWT},
		{Name: authhttp.Name, Description: "Authentication/ACL with HTTP API", start: startHTTP},
		{Name: authldap.Name, Description: "Authentication/ACL with LDAP", start: startLDAP},
		{Name: authmongo.Name, Description: "Authentication/ACL with MongoDB", start: startMongo},
		{Name: authmysql.Name, Description: "Authentication/ACL with MySQL", start: startMySQL},
		{Name: authpgsql.Name, Description: "Authentication/ACL with PostgreSQL", start: startPgSQL},
		{Name: authredis.Name, Description: "Authentication/ACL with Redis", start: startRedis},
		{Name: bridge.Name, Description: "EMQ X Bridge MQTT", start: startBridge},
		{Name: "emqx_coap", Description: "CoAP Gateway", Later: notPlanned},
		{Name: DashboardPlugin, Description: "EMQ X Web Dashboard", start: startDashboard, ownsPorts: true},
		{Name: "emqx_delayed_publish", Description: "EMQ X Delayed Publish", Later: notPlanned},
		{Name: "emqx_lua_hook", Description: "EMQ X Hooks in lua", Later: notPlanned},
		{Name: "emqx_lwm2m", Description: "LwM2M Gateway", Later: notPlanned},
		{Name: "emqx_management", Description: "EMQ X Management API and CLI", Builtin: "the HTTP API and emqx_ctl are part of the broker (management.* in emqx.conf)"},
		{Name: pskfile.Name, Description: "EMQX PSK Plugin from File", start: startPSKFile},
		{Name: "emqx_recon", Description: "Recon Plugin", Later: notPlanned},
		{Name: "emqx_reloader", Description: "Reloader Plugin", Later: notPlanned},
		{Name: "emqx_retainer", Description: "EMQ X Retainer", Builtin: "retained messages are part of the broker (retainer.* in emqx.conf)"},
		{Name: "emqx_rule_engine", Description: "EMQ X Rule Engine", Later: notPlanned},
		{Name: "emqx_sn", Description: "EMQ X MQTT SN Plugin", Later: notPlanned},
		{Name: "emqx_statsd", Description: "Statsd for EMQ X", Later: notPlanned},
		{Name: "emqx_stomp", Description: "EMQ X Stomp Protocol Plugin", Later: notPlanned},
		{Name: "emqx_web_hook", Description: "EMQ X Webhook Plugin", Later: notPlanned},
	}
	m := make(map[string]*Plugin, len(ps))
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}()

// Names lists every plugin this build knows, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// notAvailable is the refusal of a plugin of later work.
func (p *Plugin) notAvailable() string {
	if p.Later == notPlanned {
		return "not available in this build"
	}
	return "not available in this build yet (" + p.Later + ")"
}

// startUsers starts emqx_auth_username or emqx_auth_clientid.
func startUsers(by authuser.By) func(e *Env) (*Instance, error) {
	return func(e *Env) (*Instance, error) {
		name, prefix, field := authuser.UsernamePlugin, "auth.user.", "username"
		if by == authuser.ByClientID {
			name, prefix, field = authuser.ClientIDPlugin, "auth.client.", "clientid"
		}
		c := LoadConf(name, prefix, []Key{
			{Pattern: prefix + "password_hash", Default: "sha256"},
			{Pattern: prefix + "$n." + field},
			{Pattern: prefix + "$n.password"},
		}, e.EtcDir, e.Home, e.Environ)
		spec, err := passhash.Parse(c.Str(prefix + "password_hash"))
		if err != nil {
			c.Fail(prefix+"password_hash", err.Error())
		}
		users := map[string]string{}
		for _, k := range c.Matching(prefix + "$n." + field) {
			n := strings.TrimSuffix(strings.TrimPrefix(k, prefix), "."+field)
			pk := prefix + n + ".password"
			pw, ok := c.Get(pk)
			switch {
			case c.Str(k) == "":
				c.Fail(k, "empty "+field)
			case !ok:
				c.Fail(k, "has no password: set "+pk)
			case users[c.Str(k)] != "":
				c.Fail(k, field+" "+c.Str(k)+" is configured twice")
			default:
				users[c.Str(k)] = pw
			}
		}
		for _, k := range c.Matching(prefix + "$n.password") {
			n := strings.TrimSuffix(strings.TrimPrefix(k, prefix), ".password")
			if _, ok := c.Get(prefix + n + "." + field); !ok {
				c.Fail(k, "password without "+field+": set "+prefix+n+"."+field)
			}
		}
		if err := c.Err(); err != nil {
			return nil, err
		}
		store, err := authuser.OpenStore(filepath.Join(e.DataDir, strings.TrimPrefix(name, "emqx_")+".json"))
		if err != nil {
			return nil, err
		}
		if _, err := store.AddMissing(users, spec); err != nil {
			return nil, err
		}
		a := authuser.New(by, store, spec)
		return &Instance{Authenticators: []engine.Authenticator{a}, Users: a}, nil
	}
}

// startJWT starts emqx_auth_jwt.
func startJWT(e *Env) (*Instance, error) {
	c := LoadConf(authjwt.Name, "auth.jwt.", []Key{
		{Pattern: "auth.jwt.secret"},
		{Pattern: "auth.jwt.pubkey"},
		{Pattern: "auth.jwt.from", Default: "password"},
		{Pattern: "auth.jwt.verify_claims", Default: "off"},
		{Pattern: "auth.jwt.verify_claims.$name"},
	}, e.EtcDir, e.Home, e.Environ)
	cfg := authjwt.Config{
		Secret:       []byte(c.Str("auth.jwt.secret")),
		FromUsername: c.Enum("auth.jwt.from", "password", "username") == "username",
	}
	if p := c.Path("auth.jwt.pubkey"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			c.Fail("auth.jwt.pubkey", "cannot read: "+err.Error())
		} else if cfg.PubKey, err = authjwt.ParsePublicKey(data); err != nil {
			c.Fail("auth.jwt.pubkey", fmt.Sprintf("%s: %v", p, err))
		}
	}
	if c.Bool("auth.jwt.verify_claims") {
		cfg.Claims = map[string]string{}
		for _, k := range c.Matching("auth.jwt.verify_claims.$name") {
			cfg.Claims[strings.TrimPrefix(k, "auth.jwt.verify_claims.")] = c.Str(k)
		}
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	a, err := authjwt.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuration of %s: %w", authjwt.Name, err)
	}
	return &Instance{Authenticators: []engine.Authenticator{a}}, nil
}
