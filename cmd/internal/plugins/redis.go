package plugins

import (
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authredis"
)

// startRedis starts emqx_auth_redis.
func startRedis(e *Env) (*Instance, error) {
	const p = "auth.redis."
	c := LoadConf(authredis.Name, p, []Key{
		{Pattern: p + "type", Default: "single"},
		{Pattern: p + "server", Default: "127.0.0.1:6379"},
		{Pattern: p + "sentinel"},
		{Pattern: p + "pool", Default: "8"},
		{Pattern: p + "database", Default: "0"},
		{Pattern: p + "password"},
		{Pattern: p + "query_timeout", Default: "5s"},
		{Pattern: p + "auth_cmd"},
		{Pattern: p + "password_hash", Default: "plain"},
		{Pattern: p + "super_cmd"},
		{Pattern: p + "acl_cmd"},
		{Pattern: p + "ssl", Default: "off"},
		{Pattern: p + "cafile"},
		{Pattern: p + "certfile"},
		{Pattern: p + "keyfile"},
	}, e.EtcDir, e.Home, e.Environ)
	typ := authredis.Type(c.Enum(p+"type", "single", "sentinel", "cluster"))
	cfg := authredis.Config{
		Type:         typ,
		Server:       c.Str(p + "server"),
		Sentinel:     c.Str(p + "sentinel"),
		Pool:         positiveInt(c, p+"pool"),
		Database:     nonNegativeInt(c, p+"database"),
		Password:     c.Str(p + "password"),
		QueryTimeout: positiveDuration(c, p+"query_timeout"),
		TLS:          backendTLS(c, p+"ssl", p+"cafile", p+"certfile", p+"keyfile"),
		Log:          e.Log,
	}
	if _, err := strconv.ParseUint(cfg.Server, 10, 16); err == nil {
		cfg.Server = "127.0.0.1:" + cfg.Server // EMQX's "Port" form
	}
	switch {
	case typ == authredis.Sentinel && strings.TrimSpace(cfg.Sentinel) == "":
		c.Fail(p+"sentinel", "type sentinel needs the master's name the sentinels know")
	case typ == authredis.Cluster && cfg.Database != 0:
		c.Fail(p+"database", "a Redis Cluster has only database 0")
	case typ == authredis.Single && strings.Contains(cfg.Server, ","):
		c.Fail(p+"server", "type single takes one host:port (a list is for sentinel or cluster)")
	}
	var err error
	if cfg.PasswordHash, err = passhash.Parse(c.Str(p + "password_hash")); err != nil {
		c.Fail(p+"password_hash", err.Error())
	}
	for _, k := range []struct {
		key string
		to  *authredis.Command
	}{{"auth_cmd", &cfg.AuthCmd}, {"super_cmd", &cfg.SuperCmd}, {"acl_cmd", &cfg.ACLCmd}} {
		if strings.TrimSpace(c.Str(p+k.key)) == "" {
			continue // unset: that part is off
		}
		if *k.to, err = authredis.ParseCommand(c.Str(p + k.key)); err != nil {
			c.Fail(p+k.key, err.Error())
		}
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authredis.Name, "redis")
	pl, err := authredis.New(cfg)
	if err != nil {
		return nil, err
	}
	return chainInstance(pl, cfg.Monitor, !cfg.AuthCmd.IsZero(), !cfg.ACLCmd.IsZero()), nil
}

// positiveInt reads a whole number greater than 0.
func positiveInt(c *Conf, key string) int {
	n, err := strconv.Atoi(c.Str(key))
	if err != nil || n <= 0 {
		c.Fail(key, "expected a whole number greater than 0, got "+strconv.Quote(c.Str(key)))
		return 0
	}
	return n
}

// nonNegativeInt reads a whole number, 0 or more.
func nonNegativeInt(c *Conf, key string) int {
	n, err := strconv.Atoi(c.Str(key))
	if err != nil || n < 0 {
		c.Fail(key, "expected a whole number, 0 or more, got "+strconv.Quote(c.Str(key)))
		return 0
	}
	return n
}

// positiveDuration reads a duration such as 5s, 500ms or 1m.
func positiveDuration(c *Conf, key string) time.Duration {
	d, err := time.ParseDuration(c.Str(key))
	if err != nil || d <= 0 {
		c.Fail(key, "expected a duration such as 5s or 500ms, got "+strconv.Quote(c.Str(key)))
		return 0
	}
	return d
}
