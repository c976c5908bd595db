package authredis

import (
	"log/slog"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/servicetest"
)

// newPlugin returns a plugin of s with EMQX's default commands and password_hash plain,
// changed by mod; closed with the test. Its log goes to the returned recorder.
func newPlugin(t *testing.T, s *redisServer, mod func(*Config)) (*Plugin, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	cfg := Config{
		Server:       s.addr(),
		Pool:         4,
		QueryTimeout: 2 * time.Second,
		PasswordHash: passhash.Spec{Algo: passhash.Plain},
		AuthCmd:      mustCommand(t, "HMGET mqtt_user:%u password"),
		SuperCmd:     mustCommand(t, "HGET mqtt_user:%u is_superuser"),
		ACLCmd:       mustCommand(t, "HGETALL mqtt_acl:%u"),
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

func mustCommand(t *testing.T, line string) Command {
	t.Helper()
	c, err := ParseCommand(line)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
