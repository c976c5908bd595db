package authredis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Type is how the plugin reaches Redis (auth.redis.type).
type Type string

// The server types of EMQX 3.2's auth.redis.type.
const (
	// Single is one server: Config.Server is its host:port.
	Single Type = "single"
	// Sentinel is a master found through Redis Sentinel: Config.Server lists the sentinels,
	// Config.Sentinel names the master. After a failover the plugin follows the new master.
	Sentinel Type = "sentinel"
	// Cluster is a Redis Cluster: Config.Server lists some of its nodes (the others are
	// discovered); each command goes to the node owning its key's slot.
	Cluster Type = "cluster"
)

// ParseType reads auth.redis.type.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Single, Sentinel, Cluster:
		return t, nil
	}
	return "", fmt.Errorf("authredis: type %q: expected single, sentinel or cluster", s)
}

// addrList splits a comma-separated list of host:port.
func addrList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// newClient returns the driver's client for cfg's type (cfg's defaults already applied). Every
// type shares the timeouts, pool size, retries and TLS of the single server's.
func newClient(cfg Config) (redis.UniversalClient, error) {
	addrs := addrList(cfg.Server)
	switch cfg.Type {
	case "", Single:
		if len(addrs) != 1 {
			return nil, fmt.Errorf("authredis: server %q: type single takes one host:port", cfg.Server)
		}
		return redis.NewClient(&redis.Options{
			Addr:                  addrs[0],
			Password:              cfg.Password,
			DB:                    cfg.Database,
			PoolSize:              cfg.Pool,
			Protocol:              2, // any Redis version; replies are decoded for RESP2 and RESP3 alike
			DisableIdentity:       true,
			DialTimeout:           cfg.QueryTimeout,
			ReadTimeout:           cfg.QueryTimeout,
			WriteTimeout:          cfg.QueryTimeout,
			PoolTimeout:           cfg.QueryTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            1,
			TLSConfig:             cfg.TLS,
		}), nil
	case Sentinel:
		if cfg.Sentinel == "" {
			return nil, errors.New("authredis: type sentinel needs the master's name (auth.redis.sentinel)")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            cfg.Sentinel,
			SentinelAddrs:         addrs,
			Password:              cfg.Password,
			DB:                    cfg.Database,
			PoolSize:              cfg.Pool,
			Protocol:              2,
			DisableIdentity:       true,
			DialTimeout:           cfg.QueryTimeout,
			ReadTimeout:           cfg.QueryTimeout,
			WriteTimeout:          cfg.QueryTimeout,
			PoolTimeout:           cfg.QueryTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            1,
			TLSConfig:             cfg.TLS,
		}), nil
	case Cluster:
		if cfg.Database != 0 {
			return nil, fmt.Errorf("authredis: database %d: a Redis Cluster has only database 0", cfg.Database)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 addrs,
			Password:              cfg.Password,
			PoolSize:              cfg.Pool,
			Protocol:              2,
			DisableIdentity:       true,
			DialTimeout:           cfg.QueryTimeout,
			ReadTimeout:           cfg.QueryTimeout,
			WriteTimeout:          cfg.QueryTimeout,
			PoolTimeout:           cfg.QueryTimeout,
			ContextTimeoutEnabled: true,
			MaxRedirects:          3,
			TLSConfig:             cfg.TLS,
		}), nil
	}
	return nil, fmt.Errorf("authredis: unknown type %q", cfg.Type)
}
