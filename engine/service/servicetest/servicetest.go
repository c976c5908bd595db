// Package servicetest holds what the tests of the authentication backends (authredis,
// authmysql, authpgsql, authldap, authmongo) share: a node on a loopback port with a plugin
// installed, an MQTT 5 client that reports reason codes, and recorders for a plugin's log and
// alarms. Only tests import it (tools/depcheck allows that and nothing else).
package servicetest

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
)

// Plugin is a backend that authenticates and authorizes.
type Plugin interface {
	engine.Authenticator
	engine.Authorizer
}

// StartNode starts a node on a free loopback port, without acl.conf rules (acl_nomatch =
// noMatch decides what the chain ignores), with p installed as authenticator and authorizer,
// and returns the listener's address. The node stops when the test ends.
func StartNode(t *testing.T, allowAnonymous bool, noMatch acl.Result, p Plugin) string {
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

// MQTT 5 reason codes the backends' tests expect.
const (
	RCSuccess        = 0x00
	RCGrantedQoS1    = 0x01
	RCNotAuthorized  = 0x87
	RCBadCredentials = 0x86
	RCUnavailable    = 0x88
)

// Connect connects an MQTT 5 client and returns it (nil when refused) with CONNACK's reason
// code. An accepted client is disconnected when the test ends.
func Connect(t *testing.T, addr, clientID, username, password string) (*paho.Client, byte) {
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

// WantConnack checks CONNACK's reason code for a client.
func WantConnack(t *testing.T, addr, clientID, username, password string, want byte) {
	t.Helper()
	if _, got := Connect(t, addr, clientID, username, password); got != want {
		t.Errorf("connect id=%q user=%q pass=%q: reason code %#x, want %#x", clientID, username, password, got, want)
	}
}

// SubscribeCode subscribes c to filter at QoS 1 and returns SUBACK's reason code.
func SubscribeCode(t *testing.T, c *paho.Client, filter string) byte {
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

// PublishCode publishes at QoS 1 and returns PUBACK's reason code; RCSuccess for 0x10 (no
// matching subscribers) too.
func PublishCode(t *testing.T, c *paho.Client, topic string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	if r != nil {
		if r.ReasonCode == 0x10 {
			return RCSuccess
		}
		return r.ReasonCode
	}
	t.Fatalf("publish %q: %v", topic, err)
	return 0
}

// LogRecorder is a slog.Handler that keeps the messages logged. Safe for concurrent use.
type LogRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *LogRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *LogRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *LogRecorder) WithGroup(string) slog.Handler      { return r }

// Messages returns a copy of the messages logged so far.
func (r *LogRecorder) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// Count returns how many messages contain part.
func (r *LogRecorder) Count(part string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, part) {
			n++
		}
	}
	return n
}

// AlarmRecorder records the alarms a backend monitor raises and clears (backend.Alarms).
// Safe for concurrent use.
type AlarmRecorder struct {
	mu      sync.Mutex
	raised  []string
	cleared []string
	active  map[string]bool
}

// Raise records name as raised, unless it is active already.
func (a *AlarmRecorder) Raise(name, _ string, _ map[string]any) bool {
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

// Clear records name as cleared, if it is active.
func (a *AlarmRecorder) Clear(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.active[name] {
		return false
	}
	delete(a.active, name)
	a.cleared = append(a.cleared, name)
	return true
}

// Counts returns how many times an alarm was raised and cleared, and whether one is active.
func (a *AlarmRecorder) Counts() (raised, cleared int, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.raised), len(a.cleared), len(a.active) > 0
}
