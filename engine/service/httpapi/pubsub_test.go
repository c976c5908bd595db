package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// filtersOf returns the filters of clientID's session by GET /subscriptions/{clientid}.
func filtersOf(t *testing.T, e *env, clientID string) []string {
	t.Helper()
	var subs []subscriptionJSON
	e.getData(t, "/api/v4/subscriptions/"+clientID, &subs)
	out := []string{}
	for _, s := range subs {
		out = append(out, s.Topic)
	}
	slices.Sort(out)
	return out
}

// expectOnly publishes to each topic through the API, then to "marker", and requires cl to
// receive exactly want (in order) before the marker.
func expectOnly(t *testing.T, e *env, cl *client5, topics []string, want ...string) {
	t.Helper()
	for _, tp := range append(topics, "marker") {
		if status, b := e.do(t, "POST", "/api/v4/mqtt/publish", `{"topic":"`+tp+`","payload":"x"}`, true); status != 200 {
			t.Fatalf("publish %s: %d %s", tp, status, b)
		}
	}
	var got []string
	for {
		p := cl.next(t)
		if p.Topic == "marker" {
			break
		}
		got = append(got, p.Topic)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v", got, want)
	}
}

// TestMQTTSubscribeUnsubscribe: /mqtt/subscribe and /mqtt/unsubscribe change what a connected
// client receives; bad requests are refused whole.
func TestMQTTSubscribeUnsubscribe(t *testing.T) {
	e := start(t, nil)
	cl := connect5(t, e.mqtt, &paho.Connect{ClientID: "target", CleanStart: true})
	cl.subscribe(t, "marker", 0)
	ok := func(path, body string) {
		t.Helper()
		if status, b := e.do(t, "POST", path, body, true); status != 200 || string(b) != "{\"code\":0}\n" {
			t.Fatalf("POST %s %s: %d %s", path, body, status, b)
		}
	}
	ok("/api/v4/mqtt/subscribe", `{"clientid":"target","topic":"x/#","qos":1}`)
	ok("/api/v3/mqtt/subscribe", `{"client_id":"target","topics":"y/1, y/2"}`)
	if got := filtersOf(t, e, "target"); !slices.Equal(got, []string{"marker", "x/#", "y/1", "y/2"}) {
		t.Fatalf("filters %v", got)
	}
	expectOnly(t, e, cl, []string{"x/1", "y/2", "z"}, "x/1", "y/2")

	ok("/api/v4/mqtt/unsubscribe", `{"clientid":"target","topic":"x/#"}`)
	ok("/api/v4/mqtt/unsubscribe", `{"clientid":"target","topic":"never/subscribed"}`)
	expectOnly(t, e, cl, []string{"x/1", "y/1"}, "y/1")

	bad := func(path, body string, status, code int, inMsg string) {
		t.Helper()
		e.refused(t, "POST", path, body, status, code, inMsg)
	}
	sub := "/api/v4/mqtt/subscribe"
	bad(sub, `{"clientid":"ghost","topic":"g"}`, http.StatusNotFound, codeNotOnline, `"ghost"`)
	bad(sub, `{"topic":"g"}`, http.StatusBadRequest, codeMissingParam, `"clientid"`)
	bad(sub, `{"clientid":"target"}`, http.StatusBadRequest, codeMissingParam, `"topic" or "topics"`)
	bad(sub, `{"clientid":"target","topics":"ok/1,a/#/b"}`, http.StatusBadRequest, codeBadTopic, `"a/#/b"`)
	bad(sub, `{"clientid":"target","topic":"ok/2","qos":3}`, http.StatusBadRequest, codeParamType, `"qos"`)
	bad(sub, `{"clientid":"target","topic":"ok/3","colour":"red"}`, http.StatusBadRequest, codeParamType, `"colour"`)
	bad(sub, `{"clientid":7,"topic":"ok/4"}`, http.StatusBadRequest, codeParamType, `"clientid"`)
	bad(sub, `{"clientid":"target"`, http.StatusBadRequest, codeNotJSON, "not valid JSON")
	bad("/api/v4/mqtt/unsubscribe", `{"clientid":"target","topic":"y/1","qos":1}`, http.StatusBadRequest, codeParamType, `"qos"`)
	bad("/api/v4/mqtt/unsubscribe", `{"clientid":"ghost","topic":"y/1"}`, http.StatusNotFound, codeNotOnline, `"ghost"`)
	// Nothing of the refused requests took effect.
	if got := filtersOf(t, e, "target"); !slices.Equal(got, []string{"marker", "y/1", "y/2"}) {
		t.Fatalf("filters after refused requests %v", got)
	}
}

// TestMQTTSubscribeOfflineSession: the API subscribes an offline persistent session, which
// gets the message when it comes back.
func TestMQTTSubscribeOfflineSession(t *testing.T) {
	e := start(t, nil)
	expiry := uint32(600)
	cp := func() *paho.Connect {
		return &paho.Connect{ClientID: "sleeper", Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	}
	cl := connect5(t, e.mqtt, cp())
	if err := cl.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); e.getPage(t, "/api/v4/clients?conn_state=disconnected").Meta.Count != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the session of sleeper is not offline")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status, b := e.do(t, "POST", "/api/v4/mqtt/subscribe", `{"clientid":"sleeper","topic":"wake","qos":1}`, true); status != 200 {
		t.Fatalf("subscribe: %d %s", status, b)
	}
	if status, b := e.do(t, "POST", "/api/v4/mqtt/publish", `{"topic":"wake","payload":"up","qos":1}`, true); status != 200 {
		t.Fatalf("publish: %d %s", status, b)
	}
	back := connect5(t, e.mqtt, cp())
	if p := back.next(t); p.Topic != "wake" || string(p.Payload) != "up" {
		t.Fatalf("got %q %q", p.Topic, p.Payload)
	}
}

// batchItem is one result of a batch.
type batchItem struct {
	ClientID *string `json:"clientid"`
	Topic    string  `json:"topic"`
	Code     int     `json:"code"`
}

func (e *env) batch(t *testing.T, path, body string) []batchItem {
	t.Helper()
	status, b := e.do(t, "POST", path, body, true)
	env := decodeEnvelope(t, b)
	var out []batchItem
	if status != http.StatusOK || env.Code != 0 || json.Unmarshal(env.Data, &out) != nil {
		t.Fatalf("POST %s: %d %s", path, status, b)
	}
	return out
}

func codes(items []batchItem) []int {
	var out []int
	for _, it := range items {
		out = append(out, it.Code)
	}
	return out
}

// TestBatches: subscribe_batch, unsubscribe_batch and publish_batch report one result per
// item with EMQX's codes; a malformed batch is refused whole and does nothing.
func TestBatches(t *testing.T) {
	e := start(t, nil)
	cl := connect5(t, e.mqtt, &paho.Connect{ClientID: "target", CleanStart: true})
	cl.subscribe(t, "marker", 0)

	res := e.batch(t, "/api/v4/mqtt/subscribe_batch", `[
		{"clientid":"target","topic":"b/1","qos":1},
		{"clientid":"ghost","topic":"b/2"},
		{"clientid":"target","topic":"bad/#/x"},
		{"topic":"b/3"},
		{"clientid":"target","topics":"b/4,b/5","qos":0}]`)
	if !slices.Equal(codes(res), []int{0, codeNotOnline, codeBadTopic, codeMissingParam, 0}) ||
		*res[1].ClientID != "ghost" || res[2].Topic != "bad/#/x" || res[4].Topic != "b/4,b/5" {
		t.Fatalf("subscribe_batch results %+v", res)
	}
	if got := filtersOf(t, e, "target"); !slices.Equal(got, []string{"b/1", "b/4", "b/5", "marker"}) {
		t.Fatalf("filters %v", got)
	}

	// A malformed item refuses the whole batch: c/1 of item 0 is not subscribed.
	for _, body := range []string{
		`[{"clientid":"target","topic":"c/1"},{"clientid":"target","topic":"c/2","qos":"1"}]`,
		`[{"clientid":"target","topic":"c/1"},{"clientid":"target","topic":"c/2","color":1}]`,
		`[{"clientid":"target","topic":"c/1"},"c/2"]`,
		`{"clientid":"target","topic":"c/1"}`,
	} {
		status, b := e.do(t, "POST", "/api/v4/mqtt/subscribe_batch", body, true)
		if env := decodeEnvelope(t, b); status != http.StatusBadRequest || env.Code == 0 || env.Message == "" {
			t.Fatalf("malformed batch %s: %d %s", body, status, b)
		}
	}
	e.refused(t, "POST", "/api/v4/mqtt/subscribe_batch", `[{"clientid":"target","topic":"c/1"},{"topic":"c/2","qos":"1"}]`,
		http.StatusBadRequest, codeParamType, `item 1: field "qos"`)
	if got := filtersOf(t, e, "target"); slices.Contains(got, "c/1") {
		t.Fatalf("a refused batch subscribed c/1: %v", got)
	}

	res = e.batch(t, "/api/v4/mqtt/unsubscribe_batch", `[{"clientid":"target","topic":"b/1"},{"clientid":"ghost","topic":"b/4"},{"clientid":"target","topics":"b/4,b/5"}]`)
	if !slices.Equal(codes(res), []int{0, codeNotOnline, 0}) {
		t.Fatalf("unsubscribe_batch results %+v", res)
	}
	if got := filtersOf(t, e, "target"); !slices.Equal(got, []string{"marker"}) {
		t.Fatalf("filters after unsubscribe_batch %v", got)
	}

	cl.subscribe(t, "p/#", 1)
	res = e.batch(t, "/api/v4/mqtt/publish_batch", `[
		{"topic":"p/1","payload":"one","qos":1},
		{"topic":"p/+","payload":"wild"},
		{"payload":"no topic"},
		{"topics":"p/2,p/3","payload":"two","clientid":"batcher"}]`)
	if !slices.Equal(codes(res), []int{0, codeBadTopic, codeMissingParam, 0}) || res[3].Topic != "p/2,p/3" || res[0].ClientID != nil {
		t.Fatalf("publish_batch results %+v", res)
	}
	got := map[string]string{}
	for range 3 {
		p := cl.next(t)
		got[p.Topic] = string(p.Payload)
	}
	if got["p/1"] != "one" || got["p/2"] != "two" || got["p/3"] != "two" {
		t.Fatalf("received %v", got)
	}
	e.refused(t, "POST", "/api/v4/mqtt/publish_batch", `[{"topic":"p/4","payload":"x"},{"topic":"p/5","qos":"x"}]`,
		http.StatusBadRequest, codeParamType, `item 1: field "qos"`)
	e.refused(t, "POST", "/api/v4/mqtt/publish_batch", `[{"topic":"p/4","payload":"x"}] []`,
		http.StatusBadRequest, codeNotJSON, "after its JSON array")
	expectOnly(t, e, cl, nil) // p/4 of the refused batches was not published
	if status, _ := e.do(t, "POST", "/api/v3/mqtt/publish_batch", `[]`, true); status != http.StatusNotFound {
		t.Fatalf("the batches are EMQX 4 only: /api/v3 answered %d", status)
	}
}
