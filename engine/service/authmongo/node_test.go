package authmongo

import (
	"log/slog"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
	"github.com/emqgo/emqgo/engine/service/servicetest"
)

// newPlugin returns a plugin of s with EMQX's default queries and password_hash plain,
// changed by mod; closed with the test. Its log goes to the returned recorder, its alarms to
// the returned alarms.
func newPlugin(t *testing.T, s *ferrettest.Server, mod func(*Config)) (*Plugin, *logRecorder, *alarmRecorder) {
	t.Helper()
	rec := &logRecorder{}
	alarms := &alarmRecorder{}
	cfg := Config{
		Servers:      []string{s.Addr()},
		Direct:       true,
		Pool:         4,
		Database:     ferrettest.Database,
		QueryTimeout: 2 * time.Second,
		AuthQuery: AuthQuery{Collection: "mqtt_user", PasswordFields: []string{"password"},
			PasswordHash: passhash.Spec{Algo: passhash.Plain}, Selector: mustSelector(t, "username=%u")},
		SuperQuery: SuperQuery{Collection: "mqtt_user", Field: "is_superuser", Selector: mustSelector(t, "username=%u")},
		ACLQuery:   ACLQuery{Collection: "mqtt_acl", Selectors: []Selector{mustSelector(t, "username=%u")}},
		Log:        slog.New(rec),
	}
	if mod != nil {
		mod(&cfg)
	}
	cfg.Monitor = backend.New(Name, "mongodb", cfg.Log)
	cfg.Monitor.SetAlarms(alarms)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, rec, alarms
}

func mustSelector(t *testing.T, s string) Selector {
	t.Helper()
	sel, err := ParseSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
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

type alarmRecorder = servicetest.AlarmRecorder

// startNode starts a node with p as its authenticator and authorizer (servicetest.StartNode).
func startNode(t *testing.T, allowAnonymous bool, noMatch acl.Result, p *Plugin) string {
	t.Helper()
	return servicetest.StartNode(t, allowAnonymous, noMatch, p)
}
