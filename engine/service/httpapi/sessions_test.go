package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// sessionWire decodes a session of the API (json cannot fill sessionJSON's embedded
// pointer to an unexported type).
type sessionWire struct {
	sessionJSON
	lastConnJSON
}

// TestSessionsAndTopics: GET /sessions with its filters, paging and node forms, a session by
// client id (online, offline with its last connection, none), and GET /topics.
func TestSessionsAndTopics(t *testing.T) {
	e, cs := clientsEnv(t)
	cs["dev-1"].subscribe(t, "a/+", 1)
	cs["dev-2"].subscribe(t, "a/+", 0)
	cs["dev-2"].subscribe(t, "b/#", 0)

	clientIDs := func(items []json.RawMessage) []string {
		var out []string
		for _, it := range items {
			var s sessionWire
			if err := json.Unmarshal(it, &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s.ClientID)
		}
		return out
	}
	f := func(path string, want ...string) page {
		t.Helper()
		p := e.getPage(t, path)
		if got := clientIDs(p.Data); !slices.Equal(got, want) {
			t.Fatalf("GET %s: %v, want %v", path, got, want)
		}
		return p
	}
	p := f("/api/v4/sessions", "dev-1", "dev-2", "other-3", "parked")
	if p.Meta != (pageMeta{Page: 1, Limit: 10000, Count: 4}) {
		t.Fatalf("meta %+v", p.Meta)
	}
	f("/api/v3/sessions/", "dev-1", "dev-2", "other-3", "parked")
	f("/api/v4/nodes/emqx@127.0.0.1/sessions?connected=false", "parked")
	f("/api/v4/sessions?persistent=false&connected=true", "dev-1", "dev-2", "other-3")
	if p := f("/api/v4/sessions?_page=2&_limit=3", "parked"); p.Meta != (pageMeta{Page: 2, Limit: 3, Count: 4}) {
		t.Fatalf("page 2 meta %+v", p.Meta)
	}
	e.refused(t, "GET", "/api/v4/sessions?connected=perhaps", "", http.StatusBadRequest, codeParamType, `"connected"`)
	e.refused(t, "GET", "/api/v4/sessions?clientid=x", "", http.StatusBadRequest, codeParamType, `"clientid"`)
	e.refused(t, "GET", "/api/v4/nodes/emqx@elsewhere/sessions", "", http.StatusNotFound, codeNotFound, "emqx@elsewhere")

	var one []sessionWire
	e.getData(t, "/api/v4/sessions/dev-2", &one)
	if len(one) != 1 || one[0] != (sessionWire{sessionJSON: sessionJSON{Node: "emqx@127.0.0.1", ClientID: "dev-2", Connected: true, CleanStart: true,
		Binding: "local", CreatedAt: one[0].CreatedAt, SubscriptionsCount: 2, MaxInflight: one[0].MaxInflight}}) || one[0].MaxInflight == 0 {
		t.Fatalf("session dev-2: %+v", one)
	}
	var raw []map[string]any
	if e.getData(t, "/api/v4/sessions/dev-2", &raw); len(raw) != 1 || raw[0]["disconnected_at"] != nil || raw[0]["ip_address"] != nil {
		t.Fatalf("a connected session has last-connection fields: %v", raw)
	}
	if _, err := time.ParseInLocation(time.DateTime, one[0].CreatedAt, time.Local); err != nil {
		t.Fatalf("created_at %q: %v", one[0].CreatedAt, err)
	}
	e.getData(t, "/api/v4/nodes/emqx@127.0.0.1/sessions/parked", &one)
	if len(one) != 1 || one[0].Connected || one[0].CleanStart || one[0].ExpiryInterval != 3600 || one[0].SubscriptionsCount != 1 {
		t.Fatalf("session parked: %+v", one)
	}
	// Offline: its last connection's facts, when and why it ended.
	if lc := one[0].lastConnJSON; lc.IPAddress != "127.0.0.1" || lc.Port == 0 || lc.ProtoName != "MQTT" || lc.ProtoVer != 5 ||
		lc.Listener != "external" || lc.Zone != "external" || lc.Keepalive != 30 || lc.Username != "" ||
		lc.DisconnectReason != "normal" || lc.ConnectedAt == "" || lc.DisconnectedAt < lc.ConnectedAt {
		t.Fatalf("session parked's last connection: %+v", lc)
	}
	e.getData(t, "/api/v4/sessions/ghost", &one)
	if len(one) != 0 {
		t.Fatalf("session ghost: %+v", one)
	}

	var topics []routeJSON
	decode := func(p page) []routeJSON {
		var out []routeJSON
		for _, it := range p.Data {
			var r routeJSON
			if err := json.Unmarshal(it, &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	want := []routeJSON{{"a/+", "emqx@127.0.0.1"}, {"b/#", "emqx@127.0.0.1"}, {"parked/#", "emqx@127.0.0.1"}}
	if got := decode(e.getPage(t, "/api/v4/topics")); !slices.Equal(got, want) {
		t.Fatalf("topics %+v, want %+v", got, want)
	}
	if got := decode(e.getPage(t, "/api/v4/topics?_page=2&_limit=2")); !slices.Equal(got, want[2:]) {
		t.Fatalf("topics page 2 %+v", got)
	}
	e.getData(t, "/api/v4/topics/b%2F%23", &topics)
	if !slices.Equal(topics, want[1:2]) {
		t.Fatalf("topic b/#: %+v", topics)
	}
	e.getData(t, "/api/v3/nodes/emqx@127.0.0.1/topics/none", &topics)
	if len(topics) != 0 {
		t.Fatalf("topic none: %+v", topics)
	}
}

// TestACLCacheEndpoints lists and cleans a client's ACL cache as EMQX 4.x does, under both
// paths.
func TestACLCacheEndpoints(t *testing.T) {
	rules, err := acl.Parse("acl.conf", []byte("{deny, all, publish, [\"secret/#\"]}.\n{allow, all, pubsub, [\"#\"]}."))
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, func(c *engine.Config) {
		c.ACL = rules
		c.ACLCacheSize, c.ACLCacheTTL = 8, time.Minute
	}, nil)
	c := connect5(t, e.mqtt, &paho.Connect{ClientID: "dev", CleanStart: true})
	before := time.Now().Add(-time.Second).UnixMilli()
	if rc := c.publish(t, "open/1", "x"); rc >= 0x80 {
		t.Fatalf("open/1 refused: 0x%02x", rc)
	}
	if rc := c.publish(t, "secret/1", "x"); rc != 0x87 {
		t.Fatalf("secret/1: 0x%02x, want 0x87", rc)
	}
	var list []aclCacheJSON
	e.getData(t, "/api/v4/clients/dev/acl_cache", &list)
	if len(list) != 2 {
		t.Fatalf("acl_cache %+v", list)
	}
	for _, a := range list {
		want := map[string]string{"open/1": "allow", "secret/1": "deny"}[a.Topic]
		if a.Access != "publish" || a.Result != want || a.UpdatedTime < before || a.UpdatedTime > time.Now().UnixMilli() {
			t.Fatalf("acl_cache entry %+v (want result %q)", a, want)
		}
	}
	e.getData(t, "/api/v4/acl-cache/dev", &list)
	if len(list) != 2 {
		t.Fatalf("acl-cache %+v", list)
	}

	status, b := e.do(t, "DELETE", "/api/v4/clients/dev/acl_cache", "", true)
	if status != http.StatusOK || string(b) != "{\"code\":0}\n" {
		t.Fatalf("clean: %d %s", status, b)
	}
	e.getData(t, "/api/v4/clients/dev/acl_cache", &list)
	if len(list) != 0 {
		t.Fatalf("after clean %+v", list)
	}
	c.publish(t, "open/2", "x")
	status, _ = e.do(t, "DELETE", "/api/v4/acl-cache/dev", "", true)
	e.getData(t, "/api/v4/acl-cache/dev", &list)
	if status != http.StatusOK || len(list) != 0 {
		t.Fatalf("clean by /acl-cache: %d, then %+v", status, list)
	}

	e.refused(t, "GET", "/api/v4/clients/ghost/acl_cache", "", http.StatusNotFound, codeNotOnline, `"ghost"`)
	e.refused(t, "DELETE", "/api/v4/acl-cache/ghost", "", http.StatusNotFound, codeNotOnline, `"ghost"`)
	e.refused(t, "GET", "/api/v4/clients/dev/acl_kache", "", http.StatusNotFound, codeNotFound, "acl_kache")
	// The username lookup still answers its path.
	var byUser []json.RawMessage
	e.getData(t, "/api/v4/clients/username/acl_cache", &byUser)
}
