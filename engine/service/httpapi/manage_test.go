package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
)

// TestListenersAPI: /listeners shows the MQTT listener in EMQX 4's shape with its current
// connections, per node too, and restarts it.
func TestListenersAPI(t *testing.T) {
	e := start(t, nil)
	connect5(t, e.mqtt, &paho.Connect{ClientID: "l1", CleanStart: true})
	var all []struct {
		Node string           `json:"node"`
		Raw  []map[string]any `json:"listeners"`
	}
	e.getData(t, "/api/v4/listeners", &all)
	if len(all) != 1 || all[0].Node != "emqx@127.0.0.1" || len(all[0].Raw) != 1 {
		t.Fatalf("listeners: %+v", all)
	}
	l := all[0].Raw[0]
	if l["protocol"] != "mqtt:tcp" || l["identifier"] != "mqtt:tcp:external" || l["listen_on"] != e.mqtt ||
		l["current_conns"] != 1.0 || l["running"] != true || l["acceptors"].(float64) < 1 {
		t.Fatalf("listener: %v", l)
	}
	var one []map[string]any
	e.getData(t, "/api/v4/nodes/emqx@127.0.0.1/listeners", &one)
	if len(one) != 1 || one[0]["identifier"] != "mqtt:tcp:external" {
		t.Fatalf("node listeners: %v", one)
	}
	e.refused(t, "GET", "/api/v4/nodes/other@host/listeners", "", 404, codeNotFound, "other@host")
	e.refused(t, "PUT", "/api/v4/listeners/mqtt:tcp:nosuch/restart", "", 404, codeNotFound, "nosuch")
	if status, b := e.do(t, "PUT", "/api/v4/listeners/mqtt:tcp:external/restart", "", true); status != 200 {
		t.Fatalf("restart: %d %s", status, b)
	}
	// The restart closed the connection; a new client gets in.
	connect5(t, e.mqtt, &paho.Connect{ClientID: "l2", CleanStart: true})
}

// connackCode connects an MQTT 5 client and returns the CONNACK's reason code.
func connackCode(t *testing.T, addr, id string) byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if ca == nil {
		t.Fatalf("connect %s: no CONNACK: %v", id, err)
	}
	if ca.ReasonCode == 0 {
		_ = c.Disconnect(&paho.Disconnect{})
	} else {
		conn.Close()
	}
	return ca.ReasonCode
}

// TestBannedAPI: a ban added by POST /banned refuses the client's CONNECT, is listed in EMQX
// 4's shape, tells the banned service (OnBansChanged), and DELETE lifts it.
func TestBannedAPI(t *testing.T) {
	e := startWith(t, func(c *engine.Config) { c.Listeners[0].Zone.EnableBan = true }, nil)
	changed := make(chan struct{}, 8)
	e.node.OnBansChanged(func() { changed <- struct{}{} })
	t.Cleanup(func() { e.node.OnBansChanged(nil) })

	until := time.Now().Add(time.Hour).Unix()
	body, _ := json.Marshal(map[string]any{"who": "evil", "as": "clientid", "reason": "spam", "until": until})
	status, b := e.do(t, "POST", "/api/v4/banned", string(body), true)
	env := decodeEnvelope(t, b)
	var ban map[string]any
	json.Unmarshal(env.Data, &ban)
	if status != 200 || env.Code != 0 || ban["who"] != "evil" || ban["as"] != "clientid" || ban["by"] != "mgmt_api" || ban["until"] != float64(until) {
		t.Fatalf("create: %d %s", status, b)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the banned table's change was not signalled")
	}
	if rc := connackCode(t, e.mqtt, "evil"); rc != 0x8A {
		t.Fatalf("banned client: CONNACK %#x, want 0x8A", rc)
	}
	// Without until: five minutes, as EMQX 4.
	e.do(t, "POST", "/api/v4/banned", `{"who":"::ffff:10.0.0.1","as":"peerhost"}`, true)
	p := e.getPage(t, "/api/v4/banned?_limit=1")
	if p.Meta.Count != 2 || !p.Meta.HasNext || len(p.Data) != 1 {
		t.Fatalf("page: %+v", p)
	}
	p = e.getPage(t, "/api/v4/banned")
	var peer map[string]any
	for _, raw := range p.Data {
		var x map[string]any
		json.Unmarshal(raw, &x)
		if x["as"] == "peerhost" {
			peer = x
		}
	}
	if peer == nil || peer["who"] != "10.0.0.1" {
		t.Fatalf("peerhost ban: %v", p.Data)
	}
	if d := peer["until"].(float64) - peer["at"].(float64); d < 299 || d > 301 {
		t.Errorf("default ban length %v s, want 300", d)
	}

	e.refused(t, "POST", "/api/v4/banned", `{"as":"clientid"}`, 400, codeMissingParam, `"who"`)
	e.refused(t, "POST", "/api/v4/banned", `{"who":"x","as":"nickname"}`, 400, codeParamType, `"as"`)
	e.refused(t, "POST", "/api/v4/banned", `{"who":"not-an-ip","as":"peerhost"}`, 400, codeParamType, "not-an-ip")
	e.refused(t, "POST", "/api/v4/banned", `{"who":"x","as":"clientid","until":5}`, 400, codeParamType, "future")
	e.refused(t, "POST", "/api/v4/banned", `{"who":"x","as":"clientid","until":"later"}`, 400, codeParamType, `"until"`)
	e.refused(t, "POST", "/api/v4/banned", `{"who":"x","as":"clientid","why":"x"}`, 400, codeParamType, `unknown field "why"`)
	e.refused(t, "POST", "/api/v4/banned", `{"who":7,"as":"clientid"}`, 400, codeParamType, `"who"`)
	if n := len(e.node.Bans()); n != 2 {
		t.Fatalf("refused requests changed the table: %d bans", n)
	}

	if status, b := e.do(t, "DELETE", "/api/v4/banned/clientid/evil", "", true); status != 200 {
		t.Fatalf("delete: %d %s", status, b)
	}
	if rc := connackCode(t, e.mqtt, "evil"); rc != 0 {
		t.Fatalf("after the ban is lifted: CONNACK %#x", rc)
	}
	e.refused(t, "DELETE", "/api/v4/banned/clientid/evil", "", 404, codeNotFound, "evil")
	e.refused(t, "DELETE", "/api/v4/banned/nickname/evil", "", 400, codeParamType, "nickname")
	if status, _ := e.do(t, "DELETE", "/api/v4/banned/peerhost/10.0.0.1", "", true); status != 200 {
		t.Fatalf("delete peerhost: %d", status)
	}
}

// fakeAlarms is an alarm registry.
type fakeAlarms struct {
	mu              sync.Mutex
	active, cleared []Alarm
}

func (f *fakeAlarms) Alarms() ([]Alarm, []Alarm) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Alarm(nil), f.active...), append([]Alarm(nil), f.cleared...)
}

func (f *fakeAlarms) ClearHistory() { f.mu.Lock(); f.cleared = nil; f.mu.Unlock() }

// TestAlarmsAPI: /alarms lists raised and cleared alarms in EMQX 4's shape, per node too, and
// DELETE /alarms/deactivated forgets the cleared ones.
func TestAlarmsAPI(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	f := &fakeAlarms{
		active:  []Alarm{{Name: "high_system_memory_usage", Message: "memory above 70%", Details: map[string]any{"usage": 0.8}, ActivatedAt: t0}},
		cleared: []Alarm{{Name: "durable_store_failed", Message: "store failed", ActivatedAt: t0, ClearedAt: t0.Add(2 * time.Second)}},
	}
	e := start(t, func(o *Options) { o.Alarms = f })
	type alarm struct {
		Node, Name, Message string
		Details             map[string]any
		ActivateAt          string `json:"activate_at"`
		DeactivateAt        string `json:"deactivate_at"`
		Duration            int64
		Activated           bool
	}
	var all []struct {
		Node   string  `json:"node"`
		Alarms []alarm `json:"alarms"`
	}
	e.getData(t, "/api/v4/alarms", &all)
	if len(all) != 1 || all[0].Node != "emqx@127.0.0.1" || len(all[0].Alarms) != 2 {
		t.Fatalf("alarms: %+v", all)
	}
	a, c := all[0].Alarms[0], all[0].Alarms[1]
	if a.Name != "high_system_memory_usage" || !a.Activated || a.Details["usage"] != 0.8 || a.Duration < 60000 || a.DeactivateAt != "" || a.ActivateAt != t0.Format(time.RFC3339) {
		t.Errorf("raised alarm: %+v", a)
	}
	if c.Name != "durable_store_failed" || c.Activated || c.Duration != 2000 || c.DeactivateAt == "" {
		t.Errorf("cleared alarm: %+v", c)
	}
	e.getData(t, "/api/v4/alarms/activated", &all)
	if len(all[0].Alarms) != 1 || all[0].Alarms[0].Name != "high_system_memory_usage" {
		t.Errorf("activated: %+v", all)
	}
	e.getData(t, "/api/v4/alarms/deactivated", &all)
	if len(all[0].Alarms) != 1 || all[0].Alarms[0].Name != "durable_store_failed" {
		t.Errorf("deactivated: %+v", all)
	}
	var node []alarm
	e.getData(t, "/api/v4/nodes/emqx@127.0.0.1/alarms", &node)
	if len(node) != 2 {
		t.Errorf("node alarms: %+v", node)
	}
	if status, _ := e.do(t, "DELETE", "/api/v4/alarms/deactivated", "", true); status != 200 {
		t.Fatalf("delete deactivated: %d", status)
	}
	e.getData(t, "/api/v4/alarms", &all)
	if len(all[0].Alarms) != 1 {
		t.Errorf("after DELETE /alarms/deactivated: %+v", all)
	}

	// Without a registry the lists are empty, not an error.
	bare := start(t, nil)
	var empty []struct {
		Alarms []alarm `json:"alarms"`
	}
	bare.getData(t, "/api/v4/alarms", &empty)
	if len(empty) != 1 || empty[0].Alarms == nil || len(empty[0].Alarms) != 0 {
		t.Errorf("no registry: %+v", empty)
	}
}

// fakePlugins is a plugin manager.
type fakePlugins struct {
	mu     sync.Mutex
	active map[string]bool
}

func (f *fakePlugins) Plugins() []Plugin {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []Plugin{
		{Name: "emqx_auth_jwt", Version: "v1", Description: "JWT", Active: f.active["emqx_auth_jwt"], Type: "auth"},
		{Name: "emqx_management", Version: "v1", Description: "API", Active: true, Type: "feature"},
	}
}

func (f *fakePlugins) op(name string, load bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "emqx_auth_jwt" && name != "emqx_management" {
		return ErrPluginNotFound
	}
	if f.active[name] == load {
		if load {
			return errors.New("already_started")
		}
		return errors.New("not_started")
	}
	f.active[name] = load
	return nil
}

func (f *fakePlugins) Load(name string) error   { return f.op(name, true) }
func (f *fakePlugins) Unload(name string) error { return f.op(name, false) }

// TestPluginsAPI: /plugins lists the plugins in EMQX 4's shape and loads and unloads them,
// with the manager's refusals.
func TestPluginsAPI(t *testing.T) {
	f := &fakePlugins{active: map[string]bool{}}
	e := start(t, func(o *Options) { o.Plugins = f })
	active := func() bool {
		t.Helper()
		var all []struct {
			Node    string           `json:"node"`
			Plugins []map[string]any `json:"plugins"`
		}
		e.getData(t, "/api/v4/plugins", &all)
		if len(all) != 1 || all[0].Node != "emqx@127.0.0.1" || len(all[0].Plugins) != 2 {
			t.Fatalf("plugins: %+v", all)
		}
		p := all[0].Plugins[0]
		if p["name"] != "emqx_auth_jwt" || p["version"] != "v1" || p["description"] != "JWT" || p["type"] != "auth" {
			t.Fatalf("plugin: %v", p)
		}
		return p["active"] == true
	}
	if active() {
		t.Fatal("active before load")
	}
	if status, b := e.do(t, "PUT", "/api/v4/plugins/emqx_auth_jwt/load", "", true); status != 200 {
		t.Fatalf("load: %d %s", status, b)
	}
	if !active() {
		t.Fatal("not active after load")
	}
	e.refused(t, "PUT", "/api/v4/nodes/emqx@127.0.0.1/plugins/emqx_auth_jwt/load", "", 400, codeUnknown, "already_started")
	if status, b := e.do(t, "PUT", "/api/v4/nodes/emqx@127.0.0.1/plugins/emqx_auth_jwt/unload", "", true); status != 200 {
		t.Fatalf("unload: %d %s", status, b)
	}
	if active() {
		t.Fatal("active after unload")
	}
	e.refused(t, "PUT", "/api/v4/plugins/emqx_nosuch/load", "", 404, codeUnknown, "not_found")
	e.refused(t, "PUT", "/api/v4/plugins/emqx_auth_jwt/reboot", "", 404, codeNotFound, "load or /unload")
	e.refused(t, "PUT", "/api/v4/nodes/other@host/plugins/emqx_auth_jwt/load", "", 404, codeNotFound, "other@host")
	var list []map[string]any
	e.getData(t, "/api/v4/nodes/emqx@127.0.0.1/plugins", &list)
	if len(list) != 2 || !strings.HasPrefix(list[1]["name"].(string), "emqx_management") {
		t.Fatalf("node plugins: %v", list)
	}
}
