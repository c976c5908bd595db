// Package authmongo is the emqx_auth_mongo plugin: clients authenticated, recognised as
// superusers and authorized by documents of a MongoDB database, as EMQX 3.2 defines them. The
// auth query finds one document of auth_query.collection (mqtt_user) by its selector
// (username=%u) and checks the password field(s) (password, or password,salt) under
// password_hash; the super query reads a boolean field (is_superuser) of the document its
// selector finds; the ACL query finds one document per selector in acl_query.collection
// (mqtt_acl) and reads its publish, subscribe and pubsub arrays of topic filters.
// Placeholders are sent as string values of the query, never parsed.
//
// A Plugin is both an engine.Authenticator and an engine.Authorizer; cmd/internal/plugins
// installs it into the node's chains when the plugin is loaded. The engine calls it on its side
// pool, never on an event loop. A server that is down or slow refuses only the clients that need
// it, with "server unavailable" (CONNACK 0x03 / 0x88) or an ACL denial, at most QueryTimeout
// after asking; outages are logged, alarmed and counted by the plugin's backend.Monitor.
package authmongo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Name is the plugin's name.
const Name = "emqx_auth_mongo"

// DefaultQueryTimeout bounds one query when Config.QueryTimeout is 0 (auth.mongo.query_timeout).
const DefaultQueryTimeout = 5 * time.Second

// Config is the plugin's configuration (etc/plugins/emqx_auth_mongo.conf).
type Config struct {
	Servers      []string // host:port
	ReplicaSet   string   // "" unless auth.mongo.type = rs
	Direct       bool     // auth.mongo.type = single: talk to the one server named
	Pool         int      // connections at most; 0: 8
	Login        string   // "" connects without authentication
	Password     string
	AuthSource   string // database of the login; "" is Database
	Database     string
	TLS          *tls.Config   // nil: no TLS (auth.mongo.ssl = false)
	QueryTimeout time.Duration // per query, server selection included; 0: DefaultQueryTimeout
	// Topology settings (auth.mongo.topology.*); 0: QueryTimeout for the timeouts, the
	// driver's defaults for the others.
	ConnectTimeout, SelectionTimeout, Heartbeat, LocalThreshold time.Duration

	SecondaryOK bool // r_mode = slave_ok: read from secondaries too

	AuthQuery  AuthQuery  // zero Collection: the plugin does not authenticate
	SuperQuery SuperQuery // zero Collection: nobody is a superuser through this plugin
	ACLQuery   ACLQuery   // zero Collection: the plugin does not authorize

	Monitor *backend.Monitor // nil: a monitor of its own
	Log     *slog.Logger     // nil: slog.Default()
}

// AuthQuery is auth_query.*: the collection, the password field and then, if any, the salt
// field, the hash, and the selector.
type AuthQuery struct {
	Collection     string
	PasswordFields []string
	PasswordHash   passhash.Spec
	Selector       Selector
}

// SuperQuery is super_query.*: a document whose Field is true is a superuser's.
type SuperQuery struct {
	Collection string
	Field      string
	Selector   Selector
}

// ACLQuery is acl_query.*: one document per selector (their $or, as EMQX puts it).
type ACLQuery struct {
	Collection string
	Selectors  []Selector
}

// Plugin asks MongoDB. Safe for concurrent use; Close releases its connections.
type Plugin struct {
	cfg    Config
	client *mongo.Client
	db     *mongo.Database
	mon    *backend.Monitor
	log    *slog.Logger
}

// New returns the plugin for cfg. It does not wait for the server: connections are made when
// needed, so a node starts while MongoDB is down and the plugin recovers by itself.
func New(cfg Config) (*Plugin, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("authmongo: no server")
	}
	if cfg.Database == "" {
		return nil, errors.New("authmongo: no database")
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
	o := options.Client().SetHosts(cfg.Servers).SetMaxPoolSize(uint64(cfg.Pool)).SetMinPoolSize(0).
		SetConnectTimeout(cfg.QueryTimeout).SetServerSelectionTimeout(cfg.QueryTimeout).
		SetAppName("emqgo " + Name).SetRetryReads(true).SetDirect(cfg.Direct).
		// A stopped server is noticed between queries too, and a returning one soon.
		SetHeartbeatInterval(2 * time.Second)
	if cfg.ConnectTimeout > 0 {
		o.SetConnectTimeout(cfg.ConnectTimeout)
	}
	if cfg.SelectionTimeout > 0 {
		o.SetServerSelectionTimeout(cfg.SelectionTimeout)
	}
	if cfg.Heartbeat > 0 {
		o.SetHeartbeatInterval(cfg.Heartbeat)
	}
	if cfg.LocalThreshold > 0 {
		o.SetLocalThreshold(cfg.LocalThreshold)
	}
	if cfg.SecondaryOK {
		o.SetReadPreference(readpref.SecondaryPreferred())
	}
	if cfg.ReplicaSet != "" {
		o.SetReplicaSet(cfg.ReplicaSet)
	}
	if cfg.Login != "" {
		src := cfg.AuthSource
		if src == "" {
			src = cfg.Database
		}
		o.SetAuth(options.Credential{Username: cfg.Login, Password: cfg.Password, AuthSource: src})
	}
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	client, err := mongo.Connect(o)
	if err != nil {
		return nil, fmt.Errorf("authmongo: %w", err)
	}
	p := &Plugin{cfg: cfg, client: client, db: client.Database(cfg.Database), mon: cfg.Monitor, log: cfg.Log.With("plugin", Name)}
	if p.mon == nil {
		p.mon = backend.New(Name, "mongodb", cfg.Log)
	}
	return p, nil
}

// Name implements engine.Authenticator and engine.Authorizer.
func (p *Plugin) Name() string { return Name }

// Monitor returns the plugin's backend monitor (its counters and outage state).
func (p *Plugin) Monitor() *backend.Monitor { return p.mon }

// Close closes the connections.
func (p *Plugin) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.client.Disconnect(ctx)
}

// errNoAnswer marks a failure to reach the server (as opposed to an error it answered).
var errNoAnswer = errors.New("mongodb did not answer")

// timeoutError is a query that got no answer in time, for backend.IsTimeout.
type timeoutError struct{ err error }

func (e timeoutError) Error() string   { return e.err.Error() }
func (e timeoutError) Unwrap() error   { return e.err }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// findOne returns the document of coll that filter selects, nil when there is none. An error
// the server answers is returned as is; a failure to reach it (down, no server selectable,
// timed out) is wrapped in errNoAnswer and reported to the monitor, which logs and alarms the
// outage once.
func (p *Plugin) findOne(ctx context.Context, coll string, filter bson.D) (bson.M, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.QueryTimeout)
	defer cancel()
	p.mon.Sent()
	var doc bson.M
	err := p.db.Collection(coll).FindOne(ctx, filter).Decode(&doc)
	switch {
	case err == nil:
		p.mon.Answered()
		return doc, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		p.mon.Answered()
		return nil, nil
	}
	var se mongo.ServerError
	if errors.As(err, &se) && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err) {
		p.mon.Refused()
		return nil, fmt.Errorf("mongodb refused the query on %s: %w", coll, err)
	}
	if mongo.IsTimeout(err) || ctx.Err() != nil {
		err = timeoutError{err}
	}
	return nil, p.mon.NoAnswer(fmt.Errorf("%w within %s: %w", errNoAnswer, p.cfg.QueryTimeout, err), p.cfg.QueryTimeout)
}
