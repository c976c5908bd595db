// Package authmysql is the emqx_auth_mysql plugin: clients authenticated, recognised as
// superusers and authorized by queries run on a MySQL or MariaDB server, as EMQX 3.2 defines
// them (auth_query "select password from mqtt_user where username = '%u' limit 1",
// super_query "select is_superuser from mqtt_user where username = '%u' limit 1", acl_query
// over the mqtt_acl table). A Plugin is both an engine.Authenticator and an
// engine.Authorizer; cmd/internal/plugins installs it into the node's chains when the plugin
// is loaded. The engine calls it on its side pool, never on an event loop.
//
// Placeholders are parameters of server-side prepared statements (see Query), never text of
// the SQL. A server that is down or slow refuses only the clients that need it, with "server
// unavailable" (CONNACK 0x03 / 0x88) or an ACL denial, at most QueryTimeout after asking; the
// outage is logged once when it begins and once when the server answers again.
package authmysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Name is the plugin's name.
const Name = "emqx_auth_mysql"

// DefaultQueryTimeout bounds one query when Config.QueryTimeout is 0 (auth.mysql.query_timeout).
const DefaultQueryTimeout = 5 * time.Second

// Config is the plugin's configuration (etc/plugins/emqx_auth_mysql.conf). A zero AuthQuery,
// SuperQuery or ACLQuery turns that part off.
type Config struct {
	Server       string // host:port
	Pool         int    // connections at most; 0: 8
	Username     string
	Password     string
	Database     string
	QueryTimeout time.Duration // per query, connecting included; 0: DefaultQueryTimeout
	TLS          *tls.Config   // nil: plain TCP; else TLS with it (auth.mysql.ssl); not modified
	PasswordHash passhash.Spec
	AuthQuery    Query
	SuperQuery   Query
	ACLQuery     Query
	Log          *slog.Logger     // nil: slog.Default()
	Monitor      *backend.Monitor // counters, outage log and alarm; nil: one of its own
}

// Plugin asks MySQL. Safe for concurrent use; Close releases its connections.
type Plugin struct {
	cfg Config
	db  *sql.DB
	log *slog.Logger

	// Statements are prepared on first use (the server may be down at start) and kept; the
	// driver prepares them again on each new connection.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	mon *backend.Monitor
}

// Stats counts the plugin's queries.
type Stats struct {
	Queries  uint64 // queries run
	Failures uint64 // queries the server did not answer (down, timed out) or refused with an error
	Outages  uint64 // times the server went from answering to not answering
}

// New returns the plugin for cfg. It does not connect: connections are made when needed, so
// a node starts while the server is down and the plugin recovers by itself when it returns.
func New(cfg Config) (*Plugin, error) {
	if cfg.Server == "" {
		return nil, errors.New("authmysql: no server address")
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
	dc := mysql.NewConfig()
	// The driver's own lines (one per broken connection) would repeat for every client during
	// an outage; the plugin logs outages itself.
	dc.Logger = &mysql.NopLogger{}
	dc.User = cfg.Username
	dc.Passwd = cfg.Password
	dc.Net = "tcp"
	dc.Addr = cfg.Server
	dc.DBName = cfg.Database
	dc.Timeout = cfg.QueryTimeout
	dc.ReadTimeout = cfg.QueryTimeout
	dc.WriteTimeout = cfg.QueryTimeout
	dc.InterpolateParams = false // parameters travel apart from the SQL (prepared statements)
	if cfg.TLS != nil {
		dc.TLS = cfg.TLS.Clone() // the driver fills in ServerName from the address
	}
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("authmysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.Pool)
	db.SetMaxIdleConns(cfg.Pool)
	db.SetConnMaxIdleTime(5 * time.Minute)
	p := &Plugin{cfg: cfg, db: db, stmts: map[string]*sql.Stmt{}, mon: cfg.Monitor}
	if p.mon == nil {
		p.mon = backend.New(Name, "mysql", cfg.Log)
	}
	p.log = cfg.Log.With("plugin", Name, "server", cfg.Server)
	return p, nil
}

// Name implements engine.Authenticator and engine.Authorizer.
func (p *Plugin) Name() string { return Name }

// Close closes the connections; queries running fail.
func (p *Plugin) Close() { _ = p.db.Close() }

// Stats returns the counters so far.
func (p *Plugin) Stats() Stats {
	return Stats{Queries: p.mon.Get(backend.Queries), Failures: p.mon.Get(backend.Errors) + p.mon.Get(backend.Timeouts), Outages: p.mon.Get(backend.Outages)}
}

// errNoAnswer marks a failure to reach the server (as opposed to an error it answered).
var errNoAnswer = errors.New("mysql did not answer")

// query runs q with args within the query timeout and returns every row, each column as
// text (NULL as ""). A failure to reach the server (refused, reset, timed out) is wrapped in
// errNoAnswer and reported to the plugin's monitor (which logs and alarms an outage once, and
// its end). An error the server answers (a bad query, a missing table) is returned as is.
func (p *Plugin) query(ctx context.Context, q Query, args []any) (cols []string, rows [][]string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.QueryTimeout)
	defer cancel()
	p.mon.Sent()
	cols, rows, err = p.run(ctx, q, args)
	if err == nil {
		p.mon.Answered()
		return cols, rows, nil
	}
	var answer *mysql.MySQLError
	if errors.As(err, &answer) {
		p.mon.Refused()
		return nil, nil, fmt.Errorf("mysql refused %q: %w", q.String(), err)
	}
	return nil, nil, p.mon.NoAnswer(fmt.Errorf("%w within %s: %w", errNoAnswer, p.cfg.QueryTimeout, err), p.cfg.QueryTimeout)
}

func (p *Plugin) run(ctx context.Context, q Query, args []any) ([]string, [][]string, error) {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	var rows [][]string
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		rows = append(rows, row)
	}
	return cols, rows, rs.Err()
}

// stmt returns q's prepared statement, preparing it on first use.
func (p *Plugin) stmt(ctx context.Context, q Query) (*sql.Stmt, error) {
	p.stmtMu.Lock()
	st := p.stmts[q.sql]
	p.stmtMu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, q.sql)
	if err != nil {
		return nil, err
	}
	p.stmtMu.Lock()
	defer p.stmtMu.Unlock()
	if prev := p.stmts[q.sql]; prev != nil { // prepared meanwhile by another query
		_ = st.Close()
		return prev, nil
	}
	p.stmts[q.sql] = st
	return st, nil
}
