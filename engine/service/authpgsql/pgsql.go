// Package authpgsql is the emqx_auth_pgsql plugin: clients authenticated, recognised as
// superusers and authorized by SQL queries run on a PostgreSQL server, as EMQX 3.2 defines
// them (auth_query "select password from mqtt_user where username = '%u' limit 1",
// super_query "select is_superuser from mqtt_user ...", acl_query over EMQX's mqtt_acl
// table). Placeholders are bound as query parameters, never spliced into the SQL. A Plugin is
// both an engine.Authenticator and an engine.Authorizer; cmd/internal/plugins installs it into
// the node's chains when the plugin is loaded. The engine calls it on its side pool, never on
// an event loop.
//
// A server that is down or slow refuses only the clients that need it, with "server
// unavailable" (CONNACK 0x03 / 0x88) or an ACL denial, at most QueryTimeout after asking; the
// outage is logged once when it begins and once when the server answers again. The pool
// reconnects by itself.
package authpgsql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Name is the plugin's name.
const Name = "emqx_auth_pgsql"

// DefaultQueryTimeout bounds one query when Config.QueryTimeout is 0 (auth.pgsql.query_timeout).
const DefaultQueryTimeout = 5 * time.Second

// Config is the plugin's configuration (etc/plugins/emqx_auth_pgsql.conf). A zero AuthQuery,
// SuperQuery or ACLQuery turns that part off.
type Config struct {
	Server       string // host:port
	Pool         int    // connections at most; 0: 8
	Username     string
	Password     string
	Database     string
	TLS          *tls.Config   // nil: no TLS (auth.pgsql.ssl = false)
	QueryTimeout time.Duration // per query, connecting included; 0: DefaultQueryTimeout
	PasswordHash passhash.Spec
	AuthQuery    Query
	SuperQuery   Query
	ACLQuery     Query
	Log          *slog.Logger     // nil: slog.Default()
	Monitor      *backend.Monitor // counters, outage log and alarm; nil: one of its own
}

// Plugin asks PostgreSQL. Safe for concurrent use; Close releases its connections.
type Plugin struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	mon  *backend.Monitor
}

// Stats counts the plugin's queries.
type Stats struct {
	Queries  uint64 // queries sent
	Failures uint64 // queries the server did not answer (down, timed out) or refused with an error
	Outages  uint64 // times the server went from answering to not answering
}

// New returns the plugin for cfg. It does not connect: connections are made when needed, so
// a node starts while PostgreSQL is down and the plugin recovers by itself when it comes back.
func New(cfg Config) (*Plugin, error) {
	if cfg.Server == "" {
		return nil, errors.New("authpgsql: no server address")
	}
	host, port, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("authpgsql: server %q: %w", cfg.Server, err)
	}
	portN, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("authpgsql: server %q: port %q is no number", cfg.Server, port)
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
	// ParseConfig("") fills the defaults pgx needs (dialer, resolver, …); everything that
	// matters is then set from cfg, never from PG* environment variables.
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("authpgsql: %w", err)
	}
	cc := pc.ConnConfig
	cc.Host, cc.Port = host, uint16(portN)
	cc.User, cc.Password, cc.Database = cfg.Username, cfg.Password, cfg.Database
	if cfg.TLS != nil {
		// pgx checks the server's name only against ServerName, which a configuration from
		// files (auth.pgsql.ssl_opts.*) leaves empty: without it no TLS connection is made.
		cc.TLSConfig = cfg.TLS.Clone()
		if cc.TLSConfig.ServerName == "" && !cc.TLSConfig.InsecureSkipVerify {
			cc.TLSConfig.ServerName = host
		}
	}
	cc.Fallbacks = nil
	cc.ConnectTimeout = cfg.QueryTimeout
	cc.RuntimeParams = map[string]string{"client_encoding": "UTF8", "application_name": "emqgo " + Name}
	pc.MaxConns = int32(cfg.Pool)
	pc.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("authpgsql: %w", err)
	}
	mon := cfg.Monitor
	if mon == nil {
		mon = backend.New(Name, "postgresql", cfg.Log)
	}
	return &Plugin{cfg: cfg, pool: pool, log: cfg.Log.With("plugin", Name, "server", cfg.Server), mon: mon}, nil
}

// Name implements engine.Authenticator and engine.Authorizer.
func (p *Plugin) Name() string { return Name }

// Close closes the connections, waiting for queries running to give theirs back.
func (p *Plugin) Close() { p.pool.Close() }

// Stats returns the counters so far.
func (p *Plugin) Stats() Stats {
	return Stats{Queries: p.mon.Get(backend.Queries), Failures: p.mon.Get(backend.Errors) + p.mon.Get(backend.Timeouts), Outages: p.mon.Get(backend.Outages)}
}

// errNoAnswer marks a failure to reach the server (as opposed to an SQL error).
var errNoAnswer = errors.New("postgresql did not answer")

// query runs q for the given arguments within the query timeout and returns every row's
// values. A failure to reach the server (refused, reset, timed out) is wrapped in errNoAnswer
// and reported to the plugin's monitor (which logs and alarms an outage once, and its end). A
// connection the server closed while idle (it restarted) is retried once on another.
func (p *Plugin) query(ctx context.Context, q Query, args []any) ([][]any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.QueryTimeout)
	defer cancel()
	p.mon.Sent()
	rows, err := p.collect(ctx, q, args)
	if err != nil && pgconn.SafeToRetry(err) && ctx.Err() == nil {
		rows, err = p.collect(ctx, q, args)
	}
	if err == nil {
		p.mon.Answered()
		return rows, nil
	}
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
		p.mon.Refused()
		return nil, fmt.Errorf("postgresql refused %q: %w", q.String(), err)
	}
	return nil, p.mon.NoAnswer(fmt.Errorf("%w within %s: %w", errNoAnswer, p.cfg.QueryTimeout, err), p.cfg.QueryTimeout)
}

func (p *Plugin) collect(ctx context.Context, q Query, args []any) ([][]any, error) {
	rows, err := p.pool.Query(ctx, q.SQL(), args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
}
