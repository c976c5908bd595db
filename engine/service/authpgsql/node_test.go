package authpgsql

import (
	"log/slog"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/servicetest"
)

// EMQX 3.2's default queries (etc/plugins/emqx_auth_pgsql.conf).
const (
	defaultAuthQuery  = "select password from mqtt_user where username = '%u' limit 1"
	defaultSuperQuery = "select is_superuser from mqtt_user where username = '%u' limit 1"
	defaultACLQuery   = "select allow, ipaddr, username, clientid, access, topic from mqtt_acl where ipaddr = '%a' or username = '%u' or username = '$all' or clientid = '%c'"
)

// newPlugin returns a plugin of s with EMQX's default queries and password_hash plain,
// changed by mod; closed with the test. Its log goes to the returned recorder.
func newPlugin(t *testing.T, s *pgServer, mod func(*Config)) (*Plugin, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	cfg := Config{
		Server:       s.addr(),
		Pool:         4,
		Username:     "postgres",
		Database:     testDatabase,
		QueryTimeout: 2 * time.Second,
		PasswordHash: passhash.Spec{Algo: passhash.Plain},
		AuthQuery:    mustQuery(t, defaultAuthQuery),
		SuperQuery:   mustQuery(t, defaultSuperQuery),
		ACLQuery:     mustQuery(t, defaultACLQuery),
		Log:          slog.New(rec),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, rec
}

func mustQuery(t *testing.T, text string) Query {
	t.Helper()
	q, err := ParseQuery(text)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// What the backends' tests share (engine/service/servicetest).
var (
	connect       = servicetest.Connect
	wantConnack   = servicetest.WantConnack
	subscribeCode = servicetest.SubscribeCode
	publishCode   = servicetest.PublishCode
)

const (
	rcSuccess        = servicetest.RCSuccess
	rcGrantedQoS1    = servicetest.RCGrantedQoS1
	rcNotAuthorized  = servicetest.RCNotAuthorized
	rcBadCredentials = servicetest.RCBadCredentials
	rcUnavailable    = servicetest.RCUnavailable
)

type logRecorder = servicetest.LogRecorder

// startNode starts a node with p as its authenticator and authorizer (servicetest.StartNode).
func startNode(t *testing.T, allowAnonymous bool, noMatch acl.Result, p *Plugin) string {
	t.Helper()
	return servicetest.StartNode(t, allowAnonymous, noMatch, p)
}
