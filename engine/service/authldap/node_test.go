package authldap

import (
	"log/slog"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/service/authldap/slapdtest"
	"github.com/emqgo/emqgo/engine/service/servicetest"
)

// newPlugin returns a plugin of s with EMQX's default attributes, changed by mod; closed with
// the test. Its log goes to the returned recorder, its alarms to the returned alarms.
func newPlugin(t *testing.T, s *slapdtest.Server, mod func(*Config)) (*Plugin, *logRecorder, *alarmRecorder) {
	t.Helper()
	rec := &logRecorder{}
	alarms := &alarmRecorder{}
	cfg := Config{
		Servers:       []string{s.Addr()},
		Pool:          4,
		BindDN:        rootDN,
		BindPassword:  rootPW,
		Timeout:       2 * time.Second,
		DeviceDN:      deviceDN,
		ObjectClass:   "mqttUser",
		UsernameAttr:  "uid",
		PasswordAttr:  "userPassword",
		SuperuserAttr: "isSuperuser",
		Log:           slog.New(rec),
	}
	if mod != nil {
		mod(&cfg)
	}
	cfg.Monitor = backend.New(Name, "ldap", cfg.Log)
	cfg.Monitor.SetAlarms(alarms)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, rec, alarms
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
