package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// clientsEnv connects dev-1 (alice, MQTT 5), dev-2 (bob, MQTT 5), other-3 (alice, MQTT
// 3.1.1) and leaves the persistent session of "parked" offline.
func clientsEnv(t *testing.T) (*env, map[string]*client5) {
	t.Helper()
	e := start(t, nil)
	expiry := uint32(3600)
	parked := connect5(t, e.mqtt, &paho.Connect{ClientID: "parked", Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	parked.subscribe(t, "parked/#", 1)
	if err := parked.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	cs := map[string]*client5{
		"dev-1": connect5(t, e.mqtt, &paho.Connect{ClientID: "dev-1", Username: "alice", CleanStart: true}),
		"dev-2": connect5(t, e.mqtt, &paho.Connect{ClientID: "dev-2", Username: "bob", CleanStart: true}),
	}
	connect3(t, e.mqtt, "other-3", "alice")
	// The offline session is listed once the disconnect is handled.
	deadline := time.Now().Add(5 * time.Second)
	for len(e.getPage(t, "/api/v4/clients?conn_state=disconnected").Data) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the offline session of parked is not listed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e, cs
}

// TestClientsListFiltersAndPaging: GET /clients with each of EMQX 4.x's filters, the node
// and /api/v3 forms, and _page/_limit with their meta.
func TestClientsListFiltersAndPaging(t *testing.T) {
	start := time.Now().Add(-time.Second)
	e, _ := clientsEnv(t)
	f := func(query string, want ...string) {
		t.Helper()
		p := e.getPage(t, "/api/v4/clients"+query)
		got := ids(t, p.Data)
		slices.Sort(got)
		slices.Sort(want)
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) || p.Meta.Count != len(want) || p.Meta.Page != 1 || p.Meta.Limit != 10000 || p.Meta.HasNext {
			t.Fatalf("clients%s: %v meta %+v, want %v", query, got, p.Meta, want)
		}
	}
	all := []string{"dev-1", "dev-2", "other-3", "parked"}
	f("", all...)
	f("?clientid=dev-2", "dev-2")
	f("?clientid=parked", "parked")
	f("?username=alice", "dev-1", "other-3")
	f("?_like_clientid=dev", "dev-1", "dev-2")
	f("?like_clientid=r", "other-3", "parked")
	f("?_like_username=li", "dev-1", "other-3")
	f("?ip_address=127.0.0.1", all...) // parked: its last connection's
	f("?ip_address=10.0.0.1")
	f("?conn_state=connected", "dev-1", "dev-2", "other-3")
	f("?conn_state=disconnected", "parked")
	f("?conn_state=idle")
	f("?clean_start=true", "dev-1", "dev-2", "other-3")
	f("?clean_start=false", "parked")
	f("?proto_ver=4", "other-3")
	f("?proto_ver=5&username=alice", "dev-1")
	f("?proto_name=MQTT", all...)
	f("?proto_name=MQIsdp")
	f("?zone=external", all...)
	f("?zone=internal")
	f("?_gte_created_at="+strconv.FormatInt(start.Unix(), 10), all...)
	f("?_gte_created_at=" + strconv.FormatInt(start.Add(time.Hour).UnixMilli(), 10))
	f("?_lte_created_at=" + strconv.FormatInt(start.Unix(), 10))
	f("?_gte_connected_at="+start.Format(time.RFC3339), all...)
	f("?_lte_connected_at=" + start.Format(time.RFC3339))
	f("?_lte_connected_at="+url.QueryEscape(time.Now().Add(time.Hour).Local().Format(time.DateTime)), all...)

	// Node and v3 forms list the same.
	if p := e.getPage(t, "/api/v4/nodes/emqx@127.0.0.1/clients"); p.Meta.Count != 4 {
		t.Fatalf("node form: %+v", p.Meta)
	}
	if p := e.getPage(t, "/api/v3/clients/"); p.Meta.Count != 4 {
		t.Fatalf("v3 form: %+v", p.Meta)
	}
	e.refused(t, "GET", "/api/v4/nodes/emqx@elsewhere/clients", "", http.StatusNotFound, codeNotFound, "emqx@elsewhere")

	// Paging: connected clients by connection time, then offline sessions.
	var seen []string
	for pg := 1; pg <= 3; pg++ {
		p := e.getPage(t, fmt.Sprintf("/api/v4/clients?_page=%d&_limit=2", pg))
		wantLen, wantNext := 2, pg == 1
		if pg == 3 {
			wantLen = 0
		}
		if len(p.Data) != wantLen || p.Meta != (pageMeta{Page: pg, Limit: 2, HasNext: wantNext, Count: 4}) {
			t.Fatalf("page %d: %d items, meta %+v", pg, len(p.Data), p.Meta)
		}
		seen = append(seen, ids(t, p.Data)...)
	}
	if seen[3] != "parked" || len(seen) != 4 {
		t.Fatalf("pages listed %v, want every client once and the offline session last", seen)
	}
	if p := e.getPage(t, "/api/v4/clients?_limit=100000"); p.Meta.Limit != 10000 {
		t.Fatalf("_limit is not capped: %+v", p.Meta)
	}

	bad := func(query, field string) {
		t.Helper()
		e.refused(t, "GET", "/api/v4/clients"+query, "", http.StatusBadRequest, codeParamType, field)
	}
	bad("?_page=0", `"_page"`)
	bad("?_page=x", `"_page"`)
	bad("?_limit=-1", `"_limit"`)
	bad("?conn_state=sleeping", `"conn_state"`)
	bad("?ip_address=localhost", `"ip_address"`)
	bad("?clean_start=maybe", `"clean_start"`)
	bad("?proto_ver=6", `"proto_ver"`)
	bad("?proto_name=AMQP", `"proto_name"`)
	bad("?_gte_created_at=yesterday", `"_gte_created_at"`)
	bad("?colour=red", `"colour"`)
	bad("?clientid=a&clientid=b", `"clientid"`)
}

// clientJSONOf decodes GET /clients/{id}.
func clientJSONOf(t *testing.T, e *env, path string) map[string]any {
	t.Helper()
	var list []map[string]any
	e.getData(t, path, &list)
	if len(list) != 1 {
		t.Fatalf("GET %s: %d clients, want 1", path, len(list))
	}
	return list[0]
}

// TestClientGetAndKick: the fields of one client (online, offline), by username, and a kick
// seen by the client as DISCONNECT 0x98.
func TestClientGetAndKick(t *testing.T) {
	e, cs := clientsEnv(t)
	c := clientJSONOf(t, e, "/api/v4/clients/dev-1")
	for k, want := range map[string]any{
		"node": "emqx@127.0.0.1", "clientid": "dev-1", "username": "alice", "proto_name": "MQTT",
		"proto_ver": 5.0, "ip_address": "127.0.0.1", "connected": true, "clean_start": true,
		"keepalive": 30.0, "zone": "external", "listener": "external", "is_bridge": false,
		"expiry_interval": 0.0, "subscriptions_cnt": 0.0,
		"recv_msg": 0.0, "send_msg": 0.0,
	} {
		if c[k] != want {
			t.Fatalf("client %s = %v, want %v (%v)", k, c[k], want, c)
		}
	}
	for _, k := range []string{"connected_at", "created_at"} {
		if _, err := time.ParseInLocation(time.DateTime, c[k].(string), time.Local); err != nil {
			t.Fatalf("client %s = %v: %v", k, c[k], err)
		}
	}
	// CONNECT in, CONNACK out, and maybe paho's first PINGREQ and its PINGRESP (answered in the
	// same loop round, so never seen apart).
	if in, out := c["recv_pkt"].(float64), c["send_pkt"].(float64); in < 1 || in > 2 || out != in {
		t.Fatalf("client recv_pkt %v send_pkt %v", in, out)
	}
	if in, _ := c["recv_oct"].(float64); in < 14 { // a CONNECT with client id "dev-1" and a username
		t.Fatalf("client recv_oct %v", c["recv_oct"])
	}
	if out, _ := c["send_oct"].(float64); out < 4 { // a CONNACK
		t.Fatalf("client send_oct %v", c["send_oct"])
	}
	if port, _ := c["port"].(float64); port <= 0 {
		t.Fatalf("client port %v", c["port"])
	}
	c3 := clientJSONOf(t, e, "/api/v4/nodes/emqx@127.0.0.1/clients/other-3")
	if c3["proto_ver"] != 4.0 || c3["proto_name"] != "MQTT" {
		t.Fatalf("3.1.1 client: %v", c3)
	}
	off := clientJSONOf(t, e, "/api/v3/clients/parked")
	// An offline session shows its last connection's facts, when and why it ended.
	if off["connected"] != false || off["subscriptions_cnt"] != 1.0 || off["expiry_interval"] != 3600.0 ||
		off["ip_address"] != "127.0.0.1" || off["proto_ver"] != 5.0 || off["listener"] != "external" || off["keepalive"] != 30.0 ||
		off["disconnect_reason"] != "normal" || off["recv_pkt"].(float64) < 3 { // CONNECT, SUBSCRIBE, DISCONNECT
		t.Fatalf("offline session: %v", off)
	}
	connAt, err1 := time.ParseInLocation(time.DateTime, off["connected_at"].(string), time.Local)
	discAt, err2 := time.ParseInLocation(time.DateTime, off["disconnected_at"].(string), time.Local)
	if err1 != nil || err2 != nil || discAt.Before(connAt) || time.Since(discAt) > time.Minute {
		t.Fatalf("offline session times: %v %v %v", off, err1, err2)
	}
	var byUser []map[string]any
	e.getData(t, "/api/v4/clients/username/alice", &byUser)
	if len(byUser) != 2 {
		t.Fatalf("by username alice: %v", byUser)
	}
	e.getData(t, "/api/v4/nodes/emqx@127.0.0.1/clients/username/nobody", &byUser)
	if len(byUser) != 0 {
		t.Fatalf("by username nobody: %v", byUser)
	}
	e.refused(t, "GET", "/api/v4/clients/ghost", "", http.StatusNotFound, codeNotOnline, `"ghost"`)

	// Kick.
	status, b := e.do(t, "DELETE", "/api/v4/clients/dev-2", "", true)
	if status != http.StatusOK || string(b) != "{\"code\":0}\n" {
		t.Fatalf("kick: status %d %s", status, b)
	}
	select {
	case d := <-cs["dev-2"].gone:
		if d.ReasonCode != 0x98 {
			t.Fatalf("kicked client got DISCONNECT 0x%02x, want 0x98", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the kicked client got no DISCONNECT")
	}
	e.refused(t, "GET", "/api/v4/clients/dev-2", "", http.StatusNotFound, codeNotOnline, `"dev-2"`)
	e.refused(t, "DELETE", "/api/v4/clients/dev-2", "", http.StatusNotFound, codeNotOnline, `"dev-2"`)
	e.refused(t, "DELETE", "/api/v4/clients/parked", "", http.StatusNotFound, codeNotOnline, `"parked"`)
	e.refused(t, "DELETE", "/api/v4/nodes/emqx@elsewhere/clients/dev-1", "", http.StatusNotFound, codeNotFound, "emqx@elsewhere")
	// dev-1 was left alone.
	if p := e.getPage(t, "/api/v4/clients?conn_state=connected"); !slices.Equal(sorted(ids(t, p.Data)), []string{"dev-1", "other-3"}) {
		t.Fatalf("after the kick: %s", p.Data)
	}
	var raw json.RawMessage
	e.getData(t, "/api/v4/clients/dev-1", &raw)
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
