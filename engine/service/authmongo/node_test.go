package authmongo

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/passhash"
	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
)

// startNode starts a node on a free loopback port, without acl.conf rules (acl_nomatch =
// noMatch decides what the chain ignores), with p installed as authenticator and authorizer.
func startNode(t *testing.T, allowAnonymous bool, noMatch acl.Result, p *Plugin) string {
	t.Helper()
	cfg := &engine.Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: engine.DefaultZone(), MaxConnections: 1000}},
		AllowAnonymous: allowAnonymous,
		ACLNoMatch:     noMatch,
		SharedStrategy: "round_robin",
		LoopCount:      2,
	}
	var n *engine.Node
	for attempt := 1; ; attempt++ {
		var err error
		if n, err = engine.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		if err = n.Start(); err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stopping node: %v", err)
		}
	})
	n.SetAuthenticators(p)
	n.SetAuthorizers(p)
	return n.Addr("external")
}

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

// connect connects an MQTT 5 client and returns it (nil when refused) with CONNACK's reason
// code. An accepted client is disconnected when the test ends.
func connect(t *testing.T, addr, clientID, username, password string) (*paho.Client, byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.UsernameFlag, cp.Username = true, username
	}
	if password != "" {
		cp.PasswordFlag, cp.Password = true, []byte(password)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if ca == nil {
		t.Fatalf("connect %q: no CONNACK: %v", clientID, err)
	}
	if ca.ReasonCode != 0 {
		return nil, ca.ReasonCode
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, 0
}

// wantConnack checks CONNACK's reason code for a client.
func wantConnack(t *testing.T, addr, clientID, username, password string, want byte) {
	t.Helper()
	if _, got := connect(t, addr, clientID, username, password); got != want {
		t.Errorf("connect id=%q user=%q pass=%q: reason code %#x, want %#x", clientID, username, password, got, want)
	}
}

// subscribeCode subscribes c to filter and returns SUBACK's reason code.
func subscribeCode(t *testing.T, c *paho.Client, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa != nil && len(sa.Reasons) == 1 {
		return sa.Reasons[0] // paho reports a refusal as an error too
	}
	t.Fatalf("subscribe %q: %v", filter, err)
	return 0
}

// publishCode publishes at QoS 1 and returns PUBACK's reason code, rcSuccess for 0x10 (no
// matching subscribers) too.
func publishCode(t *testing.T, c *paho.Client, topic string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	if r != nil {
		if r.ReasonCode == 0x10 {
			return rcSuccess
		}
		return r.ReasonCode
	}
	t.Fatalf("publish %q: %v", topic, err)
	return 0
}

// MQTT 5 reason codes of the tests.
const (
	rcSuccess        = 0x00
	rcGrantedQoS1    = 0x01
	rcNotAuthorized  = 0x87
	rcBadCredentials = 0x86
	rcUnavailable    = 0x88
)

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// count returns how many messages started with prefix.
func (r *logRecorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// alarmRecorder is a backend.Alarms that keeps what was raised and cleared.
type alarmRecorder struct {
	mu      sync.Mutex
	raised  []string
	cleared []string
	active  map[string]bool
}

func (a *alarmRecorder) Raise(name, _ string, _ map[string]any) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == nil {
		a.active = map[string]bool{}
	}
	if a.active[name] {
		return false
	}
	a.active[name] = true
	a.raised = append(a.raised, name)
	return true
}

func (a *alarmRecorder) Clear(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.active[name] {
		return false
	}
	delete(a.active, name)
	a.cleared = append(a.cleared, name)
	return true
}

// counts returns how many times an alarm was raised and cleared, and whether one is active.
func (a *alarmRecorder) counts() (raised, cleared int, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.raised), len(a.cleared), len(a.active) > 0
}
