package plugins

import (
	"crypto/tls"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmongo"
)

// mongoTopologyIdle are the auth.mongo.topology.* keys of EMQX's Erlang driver that the Go
// driver has no use for, with EMQX's defaults: another value is reported at load.
var mongoTopologyIdle = map[string]string{
	"pool_size": "1", "max_overflow": "0", "overflow_ttl": "1000", "overflow_check_period": "1000",
	"wait_queue_timeout_ms": "1000", "socket_timeout_ms": "100", "min_heartbeat_frequency_ms": "1000",
}

// startMongo starts emqx_auth_mongo.
func startMongo(e *Env) (*Instance, error) {
	const p = "auth.mongo."
	keys := []Key{
		{Pattern: p + "type", Default: "single"},
		{Pattern: p + "rs_set_name"},
		{Pattern: p + "server", Default: "127.0.0.1:27017"},
		{Pattern: p + "pool", Default: "8"},
		{Pattern: p + "login"},
		{Pattern: p + "password"},
		{Pattern: p + "auth_source"},
		{Pattern: p + "database", Default: "mqtt"},
		{Pattern: p + "query_timeout", Default: "5s"},
		{Pattern: p + "ssl", Default: "false"},
		{Pattern: p + "ssl_opts.keyfile"},
		{Pattern: p + "ssl_opts.certfile"},
		{Pattern: p + "ssl_opts.cacertfile"},
		{Pattern: p + "w_mode"},
		{Pattern: p + "r_mode"},
		{Pattern: p + "topology.local_threshold_ms"},
		{Pattern: p + "topology.connect_timeout_ms"},
		{Pattern: p + "topology.server_selection_timeout_ms"},
		{Pattern: p + "topology.heartbeat_frequency_ms"},
		{Pattern: p + "auth_query.collection", Default: "mqtt_user"},
		{Pattern: p + "auth_query.password_field", Default: "password"},
		{Pattern: p + "auth_query.password_hash", Default: "sha256"},
		{Pattern: p + "auth_query.selector", Default: "username=%u"},
		{Pattern: p + "super_query", Default: "on"},
		{Pattern: p + "super_query.collection", Default: "mqtt_user"},
		{Pattern: p + "super_query.super_field", Default: "is_superuser"},
		{Pattern: p + "super_query.selector", Default: "username=%u"},
		{Pattern: p + "acl_query", Default: "on"},
		{Pattern: p + "acl_query.collection", Default: "mqtt_acl"},
		{Pattern: p + "acl_query.selector"},
		{Pattern: p + "acl_query.selector.$n"},
	}
	for k := range mongoTopologyIdle {
		keys = append(keys, Key{Pattern: p + "topology." + k})
	}
	c := LoadConf(authmongo.Name, p, keys, e.EtcDir, e.Home, e.Environ)
	cfg := authmongo.Config{
		Pool:             positiveInt(c, p+"pool"),
		Login:            c.Str(p + "login"),
		Password:         c.Str(p + "password"),
		AuthSource:       c.Str(p + "auth_source"),
		Database:         c.Str(p + "database"),
		QueryTimeout:     positiveDuration(c, p+"query_timeout"),
		LocalThreshold:   c.Duration(p + "topology.local_threshold_ms"),
		ConnectTimeout:   c.Duration(p + "topology.connect_timeout_ms"),
		SelectionTimeout: c.Duration(p + "topology.server_selection_timeout_ms"),
		Heartbeat:        c.Duration(p + "topology.heartbeat_frequency_ms"),
		Log:              e.Log,
	}
	for _, s := range strings.Split(c.Str(p+"server"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Servers = append(cfg.Servers, s)
		}
	}
	if len(cfg.Servers) == 0 {
		c.Fail(p+"server", "no server")
	}
	switch c.Enum(p+"type", "single", "unknown", "sharded", "rs") {
	case "single":
		cfg.Direct = true
		if len(cfg.Servers) > 1 {
			c.Fail(p+"server", "type single takes one server, got "+strconv.Itoa(len(cfg.Servers)))
		}
	case "rs":
		if cfg.ReplicaSet = c.Str(p + "rs_set_name"); cfg.ReplicaSet == "" {
			c.Fail(p+"rs_set_name", "type rs needs the replica set's name")
		}
	}
	if v := c.Str(p + "w_mode"); v != "" {
		c.Enum(p+"w_mode", "unsafe", "safe")
		e.Log.Warn(p + "w_mode has no effect: the plugin only reads")
	}
	if v := c.Str(p + "r_mode"); v != "" {
		cfg.SecondaryOK = c.Enum(p+"r_mode", "master", "slave_ok") == "slave_ok"
	}
	for k, def := range mongoTopologyIdle {
		if v, ok := c.Get(p + "topology." + k); ok && v != def {
			e.Log.Warn(p+"topology."+k+" has no effect (the Go driver's pool is auth.mongo.pool)", "value", v)
		}
	}
	if c.Bool(p + "ssl") {
		cfg.TLS = tlsFiles(c, p+"ssl_opts.")
		if cfg.TLS == nil {
			cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}

	aq := &cfg.AuthQuery
	aq.Collection = c.Str(p + "auth_query.collection")
	for _, f := range strings.Split(c.Str(p+"auth_query.password_field"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			aq.PasswordFields = append(aq.PasswordFields, f)
		}
	}
	if len(aq.PasswordFields) == 0 || len(aq.PasswordFields) > 2 {
		c.Fail(p+"auth_query.password_field", "expected a field, or the password's and the salt's (password,salt)")
	}
	var err error
	if aq.PasswordHash, err = passhash.Parse(c.Str(p + "auth_query.password_hash")); err != nil {
		c.Fail(p+"auth_query.password_hash", err.Error())
	}
	aq.Selector = mongoSelector(c, p+"auth_query.selector")
	if aq.Collection == "" {
		c.Fail(p+"auth_query.collection", "empty")
	}
	if c.Bool(p + "super_query") {
		cfg.SuperQuery = authmongo.SuperQuery{
			Collection: c.Str(p + "super_query.collection"),
			Field:      c.Str(p + "super_query.super_field"),
			Selector:   mongoSelector(c, p+"super_query.selector"),
		}
	}
	if c.Bool(p + "acl_query") {
		cfg.ACLQuery.Collection = c.Str(p + "acl_query.collection")
		if _, ok := c.Get(p + "acl_query.selector"); ok {
			cfg.ACLQuery.Selectors = append(cfg.ACLQuery.Selectors, mongoSelector(c, p+"acl_query.selector"))
		}
		for _, k := range c.Matching(p + "acl_query.selector.$n") {
			cfg.ACLQuery.Selectors = append(cfg.ACLQuery.Selectors, mongoSelector(c, k))
		}
		if len(cfg.ACLQuery.Selectors) == 0 {
			c.Fail(p+"acl_query.selector", "acl_query is on without a selector")
		}
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authmongo.Name, "mongodb")
	pl, err := authmongo.New(cfg)
	if err != nil {
		return nil, err
	}
	return chainInstance(pl, cfg.Monitor, true, cfg.ACLQuery.Collection != ""), nil
}

// mongoSelector parses the selector of key.
func mongoSelector(c *Conf, key string) authmongo.Selector {
	s, err := authmongo.ParseSelector(c.Str(key))
	if err != nil {
		c.Fail(key, err.Error())
	}
	return s
}
