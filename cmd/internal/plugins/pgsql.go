package plugins

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authpgsql"
)

// startPgSQL starts emqx_auth_pgsql.
func startPgSQL(e *Env) (*Instance, error) {
	const p = "auth.pgsql."
	c := LoadConf(authpgsql.Name, p, []Key{
		{Pattern: p + "server", Default: "127.0.0.1:5432"},
		{Pattern: p + "pool", Default: "8"},
		{Pattern: p + "username", Default: "root"},
		{Pattern: p + "password"},
		{Pattern: p + "database", Default: "mqtt"},
		{Pattern: p + "encoding", Default: "utf8"},
		{Pattern: p + "ssl", Default: "false"},
		{Pattern: p + "ssl_opts.keyfile"},
		{Pattern: p + "ssl_opts.certfile"},
		{Pattern: p + "ssl_opts.cacertfile"},
		{Pattern: p + "query_timeout", Default: "5s"},
		{Pattern: p + "auth_query"},
		{Pattern: p + "password_hash", Default: "sha256"},
		{Pattern: p + "super_query"},
		{Pattern: p + "acl_query"},
	}, e.EtcDir, e.Home, e.Environ)
	cfg := authpgsql.Config{
		Server:       c.Str(p + "server"),
		Pool:         positiveInt(c, p+"pool"),
		Username:     c.Str(p + "username"),
		Password:     c.Str(p + "password"),
		Database:     c.Str(p + "database"),
		QueryTimeout: positiveDuration(c, p+"query_timeout"),
		Log:          e.Log,
	}
	if _, err := strconv.ParseUint(cfg.Server, 10, 16); err == nil {
		cfg.Server = "127.0.0.1:" + cfg.Server // EMQX's "Port" form
	}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		c.Fail(p+"server", "expected Port or IP:Port, got "+strconv.Quote(cfg.Server))
	}
	switch strings.ToLower(strings.ReplaceAll(c.Str(p+"encoding"), "-", "")) {
	case "utf8", "unicode":
	default:
		c.Fail(p+"encoding", "only utf8 is supported, got "+strconv.Quote(c.Str(p+"encoding")))
	}
	if c.Bool(p + "ssl") {
		cfg.TLS = tlsFiles(c, p+"ssl_opts.")
		if cfg.TLS == nil {
			cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		cfg.TLS.ServerName = host
	}
	if cfg.PasswordHash, err = passhash.Parse(c.Str(p + "password_hash")); err != nil {
		c.Fail(p+"password_hash", err.Error())
	}
	parseQueries(c, p, authpgsql.ParseQuery, &cfg.AuthQuery, &cfg.SuperQuery, &cfg.ACLQuery)
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authpgsql.Name, "postgresql")
	pl, err := authpgsql.New(cfg)
	if err != nil {
		return nil, err
	}
	return chainInstance(pl, cfg.Monitor, !cfg.AuthQuery.IsZero(), !cfg.ACLQuery.IsZero()), nil
}
