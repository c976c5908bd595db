package plugins

import (
	"strconv"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmysql"
)

// startMySQL starts emqx_auth_mysql.
func startMySQL(e *Env) (*Instance, error) {
	const p = "auth.mysql."
	c := LoadConf(authmysql.Name, p, []Key{
		{Pattern: p + "server", Default: "127.0.0.1:3306"},
		{Pattern: p + "pool", Default: "8"},
		{Pattern: p + "username"},
		{Pattern: p + "password"},
		{Pattern: p + "database", Default: "mqtt"},
		{Pattern: p + "query_timeout", Default: "5s"},
		{Pattern: p + "auth_query"},
		{Pattern: p + "password_hash", Default: "sha256"},
		{Pattern: p + "super_query"},
		{Pattern: p + "acl_query"},
		{Pattern: p + "ssl", Default: "off"},
		{Pattern: p + "ssl.cafile"},
		{Pattern: p + "ssl.certfile"},
		{Pattern: p + "ssl.keyfile"},
	}, e.EtcDir, e.Home, e.Environ)
	cfg := authmysql.Config{
		Server:       c.Str(p + "server"),
		Pool:         positiveInt(c, p+"pool"),
		Username:     c.Str(p + "username"),
		Password:     c.Str(p + "password"),
		Database:     c.Str(p + "database"),
		QueryTimeout: positiveDuration(c, p+"query_timeout"),
		TLS:          backendTLS(c, p+"ssl", p+"ssl.cafile", p+"ssl.certfile", p+"ssl.keyfile"),
		Log:          e.Log,
	}
	if _, err := strconv.ParseUint(cfg.Server, 10, 16); err == nil {
		cfg.Server = "127.0.0.1:" + cfg.Server // EMQX's "Port" form
	}
	var err error
	if cfg.PasswordHash, err = passhash.Parse(c.Str(p + "password_hash")); err != nil {
		c.Fail(p+"password_hash", err.Error())
	}
	parseQueries(c, p, authmysql.ParseQuery, &cfg.AuthQuery, &cfg.SuperQuery, &cfg.ACLQuery)
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authmysql.Name, "mysql")
	pl, err := authmysql.New(cfg)
	if err != nil {
		return nil, err
	}
	return chainInstance(pl, cfg.Monitor, !cfg.AuthQuery.IsZero(), !cfg.ACLQuery.IsZero()), nil
}
