// Package authldap is the emqx_auth_ldap plugin: clients authenticated and authorized by the
// entries of an LDAP directory, as EMQX 3.2 defines them. A client's entry is
// "<username.attributetype>=<user name>,<device_dn>" (uid=alice,ou=device,dc=emqx,dc=io), read
// with the plugin's own account (bind_dn) and matched by objectClass=<match_objectclass>
// (mqttUser). Its password attribute (userPassword) holds {SHA}, {SSHA}, {MD5}, {SHA256},
// {SSHA256}, {SHA512}, {SSHA512} or plain values; isEnabled FALSE disables it. Its
// mqttPublishTopic, mqttSubscriptionTopic and mqttPubSubTopic values are the topic filters it
// may publish and subscribe to. The schema is mqttuser.schema, next to this file.
//
// The user name is escaped as a DN value (RFC 4514) and the object class as a filter value
// (RFC 4515): a user name cannot name another entry or widen the search.
//
// A Plugin is both an engine.Authenticator and an engine.Authorizer; cmd/internal/plugins
// installs it into the node's chains when the plugin is loaded. The engine calls it on its side
// pool, never on an event loop. A directory that is down or slow refuses only the clients that
// need it, with "server unavailable" (CONNACK 0x03 / 0x88) or an ACL denial, at most Timeout
// after asking; outages are logged, alarmed and counted by the plugin's backend.Monitor.
package authldap

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/backend"
)

// Name is the plugin's name.
const Name = "emqx_auth_ldap"

// DefaultTimeout bounds one request when Config.Timeout is 0 (auth.ldap.timeout).
const DefaultTimeout = 30 * time.Second

// Config is the plugin's configuration (etc/plugins/emqx_auth_ldap.conf).
type Config struct {
	Servers      []string // host or host:port, tried in order; a host alone takes Port
	Port         int      // 0: 389, or 636 with TLS
	Pool         int      // connections at most; 0: 8
	BindDN       string   // the plugin's account ("" binds anonymously)
	BindPassword string
	Timeout      time.Duration // per request, connecting and binding included; 0: DefaultTimeout
	DeviceDN     string        // parent of the clients' entries
	ObjectClass  string        // match_objectclass; "" is mqttUser
	UsernameAttr string        // "" is uid
	PasswordAttr string        // "" is userPassword
	// SuperuserAttr, when set, names a boolean attribute that makes a superuser (emqgo's
	// addition: EMQX's plugin has no superusers).
	SuperuserAttr string
	// BindAsUser checks the password by binding as the client's entry (EMQX 4's
	// auth.ldap.bind_as_user): the directory verifies it, whatever its hash scheme.
	BindAsUser bool
	TLS        *tls.Config      // nil: plain LDAP; else ldaps:// (auth.ldap.ssl = true)
	Monitor    *backend.Monitor // nil: a monitor of its own
	Log        *slog.Logger     // nil: slog.Default()
}

// The attributes of the ACL, as EMQX names them.
const (
	attrPublish   = "mqttPublishTopic"
	attrSubscribe = "mqttSubscriptionTopic"
	attrPubSub    = "mqttPubSubTopic"
	attrEnabled   = "isEnabled"
)

// Plugin asks an LDAP directory. Safe for concurrent use; Close releases its connections.
type Plugin struct {
	cfg  Config
	urls []string
	pool *pool
	mon  *backend.Monitor
	log  *slog.Logger
}

// New returns the plugin for cfg. It does not connect: connections are made when needed, so
// a node starts while the directory is down and the plugin recovers by itself when it returns.
func New(cfg Config) (*Plugin, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("authldap: no server")
	}
	if cfg.DeviceDN == "" {
		return nil, errors.New("authldap: no device_dn")
	}
	if cfg.Pool <= 0 {
		cfg.Pool = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ObjectClass == "" {
		cfg.ObjectClass = "mqttUser"
	}
	if cfg.UsernameAttr == "" {
		cfg.UsernameAttr = "uid"
	}
	if cfg.PasswordAttr == "" {
		cfg.PasswordAttr = "userPassword"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	scheme, port := "ldap", cfg.Port
	if cfg.TLS != nil {
		scheme = "ldaps"
	}
	if port == 0 {
		port = 389
		if cfg.TLS != nil {
			port = 636
		}
	}
	p := &Plugin{cfg: cfg, mon: cfg.Monitor, log: cfg.Log.With("plugin", Name)}
	for _, s := range cfg.Servers {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, strconv.Itoa(port))
		}
		p.urls = append(p.urls, scheme+"://"+s)
	}
	if len(p.urls) == 0 {
		return nil, errors.New("authldap: no server")
	}
	if p.mon == nil {
		p.mon = backend.New(Name, "ldap", cfg.Log)
	}
	p.pool = newPool(p, cfg.Pool)
	return p, nil
}

// Name implements engine.Authenticator and engine.Authorizer.
func (p *Plugin) Name() string { return Name }

// Monitor returns the plugin's backend monitor (its counters and outage state).
func (p *Plugin) Monitor() *backend.Monitor { return p.mon }

// Close closes the connections; requests running fail.
func (p *Plugin) Close() { p.pool.close() }

// entryDN is the DN of the client whose user name is username.
func (p *Plugin) entryDN(username string) string {
	return p.cfg.UsernameAttr + "=" + escapeDN(username) + "," + p.cfg.DeviceDN
}

// escapeDN escapes a DN attribute value as RFC 4514 says: the special characters with a
// backslash, a leading '#' or space and a trailing space too, control characters and '='
// as \XX, so that the value stays one value of one RDN.
func escapeDN(v string) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=',
			i == 0 && (c == '#' || c == ' '),
			i == len(v)-1 && c == ' ':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&sb, `\%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
