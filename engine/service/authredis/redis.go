// Package authredis is the emqx_auth_redis plugin: clients authenticated, recognised as
// superusers and authorized by commands run on a Redis server, as EMQX 3.2 defines them
// (auth_cmd "HMGET mqtt_user:%u password", super_cmd "HGET mqtt_user:%u is_superuser",
// acl_cmd "HGETALL mqtt_acl:%u"). A Plugin is both an engine.Authenticator and an
// engine.Authorizer; cmd/internal/plugins installs it into the node's chains when the plugin
// is loaded. The engine calls it on its side pool, never on an event loop, or, for a CONNECT,
// through AuthenticateAsync: the client queues for the plugin's workers (authWorkersPerConn
// per pool connection, engine.AuthWorkers), each waiting for one command. Commands go to
// Redis in pipelines: one sender goroutine per pool connection (auth.redis.pool) sends what is
// queued in one batch, so that a connect storm costs Redis and the broker one write and a few
// reads per batch rather than a round trip per client (batch.go).
//
// A Redis server that is down or slow refuses only the clients that need it, with "server
// unavailable" (CONNACK 0x03 / 0x88) or an ACL denial, at most QueryTimeout after asking; the
// outage is logged once when it begins and once when Redis answers again.
package authredis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Name is the plugin's name.
const Name = "emqx_auth_redis"

// DefaultQueryTimeout bounds one command when Config.QueryTimeout is 0 (auth.redis.query_timeout).
const DefaultQueryTimeout = 5 * time.Second

// Config is the plugin's configuration (etc/plugins/emqx_auth_redis.conf). A zero AuthCmd,
// SuperCmd or ACLCmd turns that part off.
type Config struct {
	Type         Type   // auth.redis.type; "": Single
	Server       string // host:port; for Sentinel and Cluster a comma-separated list of them
	Sentinel     string // the master's name the sentinels know (auth.redis.sentinel), Sentinel only
	Pool         int    // connections at most; 0: 8
	Database     int
	Password     string
	QueryTimeout time.Duration // per command, dial included; 0: DefaultQueryTimeout
	TLS          *tls.Config   // nil: plain TCP; else TLS with it (auth.redis.ssl); not modified
	PasswordHash passhash.Spec
	AuthCmd      Command
	SuperCmd     Command
	ACLCmd       Command
	Log          *slog.Logger     // nil: slog.Default()
	Monitor      *backend.Monitor // counters, outage log and alarm; nil: one of its own
}

// Plugin asks Redis. Safe for concurrent use; Close releases its connections.
type Plugin struct {
	cfg    Config
	client redis.UniversalClient
	batch  *batcher // sends the commands in pipelines (batch.go)
	async  *engine.AuthWorkers
	log    *slog.Logger
	mon    *backend.Monitor
}

// Stats counts the plugin's commands.
type Stats struct {
	Queries  uint64 // commands sent
	Failures uint64 // commands Redis did not answer (down, timed out) or answered with an error
	Outages  uint64 // times Redis went from answering to not answering
}

var quietDriver sync.Once

// New returns the plugin for cfg. It does not connect: connections are made when needed, so
// a node starts while Redis is down and the plugin recovers by itself when it comes back.
func New(cfg Config) (*Plugin, error) {
	if cfg.Server == "" {
		return nil, errors.New("authredis: no server address")
	}
	if cfg.Pool <= 0 {
		cfg.Pool = 8
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	// The driver's own log lines (one per failed dial) would repeat for every client during an
	// outage; the plugin logs outages itself.
	quietDriver.Do(func() { redis.SetLogger(discardLogger{}) })
	p := &Plugin{cfg: cfg, log: cfg.Log.With("plugin", Name, "server", cfg.Server), mon: cfg.Monitor}
	if p.mon == nil {
		p.mon = backend.New(Name, "redis", cfg.Log)
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	p.client = client
	p.batch = newBatcher(client, cfg.Pool, cfg.QueryTimeout)
	p.async = engine.NewAuthWorkers(p, authWorkersPerConn*cfg.Pool)
	return p, nil
}

// authWorkersPerConn is the number of authentication workers per pool connection: each
// waits for one command, so they bound the commands a pipeline can carry at once. A storm's
// clients do not wait for their CONNACK before the next one connects, so hundreds queue at
// once: with 8 per connection (64 commands in flight for the default pool of 8) they waited
// behind a Redis niced on a busy box, CONNACK p99 170 ms against 36 ms with a goroutine per
// client; 32 per connection (256 in flight) is back at 40 ms, the storm's publish p99 no
// worse (bench/README.md, storm-redis).
const authWorkersPerConn = 32

// AuthenticateAsync implements engine.AsyncAuthenticator: a connect storm's clients queue for
// the plugin's few workers (authWorkersPerConn per pool connection) instead of taking one
// side-pool goroutine each.
func (p *Plugin) AuthenticateAsync(deadline time.Time, ci *engine.ClientInfo, done func(engine.AuthResult)) {
	p.async.AuthenticateAsync(deadline, ci, done)
}

// Name implements engine.Authenticator and engine.Authorizer.
func (p *Plugin) Name() string { return Name }

// Close stops the plugin's pipelines (commands not yet sent fail) and closes the connections.
func (p *Plugin) Close() {
	p.async.Close()
	p.batch.close()
	_ = p.client.Close()
}

// Stats returns the counters so far.
func (p *Plugin) Stats() Stats {
	return Stats{Queries: p.mon.Get(backend.Queries), Failures: p.mon.Get(backend.Errors) + p.mon.Get(backend.Timeouts), Outages: p.mon.Get(backend.Outages)}
}

// errNoAnswer marks a failure to reach Redis (as opposed to an error reply).
var errNoAnswer = errors.New("redis did not answer")

// do runs one command within the query timeout, in the next pipeline. A nil reply is redis.Nil. A failure to reach
// Redis (refused, reset, timed out) is wrapped in errNoAnswer and reported to the plugin's
// monitor, which logs and alarms an outage once, and its end.
func (p *Plugin) do(ctx context.Context, args []any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.QueryTimeout)
	defer cancel()
	p.mon.Sent()
	v, err := p.batch.do(ctx, args)
	if err == nil || errors.Is(err, redis.Nil) {
		p.mon.Answered()
		return v, err
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		p.mon.Refused()
		return nil, fmt.Errorf("redis refused %s: %w", args[0], err)
	}
	return nil, p.mon.NoAnswer(fmt.Errorf("%w within %s: %w", errNoAnswer, p.cfg.QueryTimeout, err), p.cfg.QueryTimeout)
}

// replyString reads a bulk or simple string (or a number) reply.
func replyString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// discardLogger silences go-redis's internal logger.
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
