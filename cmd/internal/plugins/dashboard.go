package plugins

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine/service/dashboard"
	"github.com/emqgo/emqgo/engine/transport"
)

// DashboardPlugin is the web console's plugin name.
const DashboardPlugin = "emqx_dashboard"

// DashboardEnv is what emqx_dashboard serves: the HTTP API's handler (mounted on its port)
// and the administrators' sessions (which the API also accepts as bearer tokens).
type DashboardEnv struct {
	API      http.Handler
	Sessions *dashboard.Sessions
}

// dashboardNoEffect are keys of emqx_dashboard.conf accepted without effect, with why.
var dashboardNoEffect = map[string]string{
	"acceptors":          "one accept loop serves the port",
	"dhfile":             "Go's crypto/tls uses ECDHE only",
	"secure_renegotiate": "Go's crypto/tls never renegotiates",
	"honor_cipher_order": "Go's crypto/tls chooses the cipher order itself",
}

// startDashboard starts emqx_dashboard: its listeners (dashboard.listener.http and, when set,
// dashboard.listener.https) and the default user of an empty administrators' file.
func startDashboard(e *Env) (*Instance, error) {
	const p = "dashboard."
	keys := []Key{
		{Pattern: p + "default_user.login", Default: "admin"},
		{Pattern: p + "default_user.password", Default: "public"},
	}
	for _, proto := range []string{"http", "https"} {
		b := p + "listener." + proto
		keys = append(keys, Key{Pattern: b}, Key{Pattern: b + ".acceptors"}, Key{Pattern: b + ".max_clients", Default: "512"},
			Key{Pattern: b + ".inet6", Default: "false"}, Key{Pattern: b + ".ipv6_v6only", Default: "false"})
	}
	for _, k := range []string{"keyfile", "certfile", "cacertfile", "dhfile", "verify", "fail_if_no_peer_cert",
		"tls_versions", "ciphers", "secure_renegotiate", "reuse_sessions", "honor_cipher_order"} {
		keys = append(keys, Key{Pattern: p + "listener.https." + k})
	}
	c := LoadConf(DashboardPlugin, p, keys, e.EtcDir, e.Home, e.Environ)
	if e.Dashboard == nil {
		c.Fail(p+"listener.http", "this node has no HTTP API handler to serve (BUG: the wiring gives none)")
	}
	for _, k := range c.Matching(p + "listener.$name.$name") {
		if why := dashboardNoEffect[k[strings.LastIndexByte(k, '.')+1:]]; why != "" {
			e.Log.Warn("emqx_dashboard: this key has no effect here", "key", k, "cause", why)
		}
	}
	type listener struct {
		key  string
		opts dashboard.Options
	}
	var ls []listener
	for _, proto := range []string{"http", "https"} {
		b := p + "listener." + proto
		addr := c.Str(b)
		if addr == "" {
			continue
		}
		bind, ok := dashboardAddr(addr)
		if !ok {
			c.Fail(b, "expected ip:port or port, got "+strconv.Quote(addr))
			continue
		}
		o := dashboard.Options{Addr: bind, MaxClients: c.Int(b + ".max_clients"), Log: e.Log,
			Network: httpNetwork(c.Bool(b+".inet6"), c.Bool(b+".ipv6_v6only"))}
		if proto == "https" {
			o.TLS = dashboardTLS(c, b+".", e.Log)
		}
		ls = append(ls, listener{b, o})
	}
	if len(ls) == 0 {
		c.Fail(p+"listener.http", "emqx_dashboard has no listener: set dashboard.listener.http or .https")
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	admins := e.Dashboard.Sessions.Admins()
	login := c.Str(p + "default_user.login")
	if added, err := admins.AddDefault(login, c.Str(p+"default_user.password")); err != nil {
		return nil, err
	} else if added {
		e.Log.Info("dashboard default user created", "user", login, "key", p+"default_user.login")
	}
	var servers []*dashboard.Server
	closeAll := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	for _, l := range ls {
		l.opts.API, l.opts.Sessions = e.Dashboard.API, e.Dashboard.Sessions
		s, err := dashboard.Start(l.opts)
		if err != nil {
			closeAll()
			return nil, err
		}
		servers = append(servers, s)
		e.Log.Info("dashboard listening", "key", l.key, "address", s.Addr())
	}
	if dashboard.VendorMissing() {
		e.Log.Warn("dashboard built without its npm files (charts and the WebSocket tool need them): run make")
	}
	return &Instance{Close: closeAll}, nil
}

// dashboardAddr turns "18083" into ":18083" and checks "ip:port".
func dashboardAddr(v string) (string, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return ":" + strconv.Itoa(n), n >= 0 && n < 65536
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", false
	}
	n, err := strconv.Atoi(port)
	return v, err == nil && n >= 0 && n < 65536
}

// httpNetwork: IPv4 unless inet6; with inet6 a wildcard address takes IPv4 too unless
// ipv6_v6only.
func httpNetwork(inet6, v6only bool) string {
	switch {
	case !inet6:
		return "tcp4"
	case v6only:
		return "tcp6"
	}
	return "tcp"
}

// dashboardTLS builds the HTTPS listener's TLS from dashboard.listener.https.* (failures are
// recorded on c).
func dashboardTLS(c *Conf, b string, log *slog.Logger) *tls.Config {
	o := transport.TLSOptions{CertFile: c.Path(b + "certfile"), KeyFile: c.Path(b + "keyfile"), CACertFile: c.Path(b + "cacertfile"),
		ReuseSessions: true}
	if o.CertFile == "" || o.KeyFile == "" {
		c.Fail(b+"certfile", "HTTPS needs certfile and keyfile")
		return nil
	}
	if _, ok := c.Get(b + "verify"); ok {
		o.VerifyPeer = c.Enum(b+"verify", "verify_peer", "verify_none") == "verify_peer"
	}
	if _, ok := c.Get(b + "fail_if_no_peer_cert"); ok {
		o.FailIfNoPeerCert = c.Bool(b + "fail_if_no_peer_cert")
	}
	if _, ok := c.Get(b + "reuse_sessions"); ok {
		o.ReuseSessions = c.Bool(b + "reuse_sessions")
	}
	if v := c.Str(b + "tls_versions"); v != "" {
		o.Versions = strings.Split(v, ",")
	}
	if v := c.Str(b + "ciphers"); v != "" {
		o.Ciphers = strings.Split(v, ",")
	}
	cfg, notes, err := transport.ServerTLS(o)
	if err != nil {
		c.Fail(b+"certfile", err.Error())
		return nil
	}
	for _, n := range notes {
		log.Warn("emqx_dashboard HTTPS setting not applied as written", "key", b+"*", "note", n)
	}
	return cfg
}
