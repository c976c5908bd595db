package httpapi

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// guideCurl is the HTTP publish example of the user guide, verbatim ("HTTP Publish API").
const guideCurl = `curl -v --basic -u user:passwd -H "Content-Type: application/json" -d \
'{"qos":1, "retain": false, "topic":"world", "payload":"test" , "client_id": "C_1492145414740"}' \-k http://localhost:8080/api/v3/mqtt/publish`

// TestGuideCurlPublish runs the guide's curl command (only the port changed to the test's)
// and requires a paho client subscribed to "world" to get the message at QoS 1.
func TestGuideCurlPublish(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (Debian: apt-get install curl)")
	}
	e := start(t, nil)
	sub := subscribe(t, e.mqtt, "guide-sub", "world", 1)
	cmd := strings.Replace(guideCurl, "localhost:8080", e.api.Addr(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", cmd+" -s -o - -w '\\n%{http_code}'").Output()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	text := strings.TrimSpace(string(out))
	i := strings.LastIndexByte(text, '\n')
	body, status := strings.TrimSpace(text[:max(i, 0)]), text[i+1:]
	if status != "200" || body != `{"code":0}` {
		t.Fatalf("curl got status %s body %q, want 200 {\"code\":0}", status, body)
	}
	p := sub.next(t)
	if p.Topic != "world" || string(p.Payload) != "test" || p.QoS != 1 || p.Retain {
		t.Fatalf("got %q %q qos %d retain %v, want world test qos 1 not retained", p.Topic, p.Payload, p.QoS, p.Retain)
	}
}

// TestPublishV4TopicsBase64Retain: the /api/v4 form with several topics, a base64 payload and
// retain; a later subscriber gets the retained copy.
func TestPublishV4TopicsBase64Retain(t *testing.T) {
	e := start(t, nil)
	a := subscribe(t, e.mqtt, "sub-a", "a/#", 0)
	status, b := e.do(t, "POST", "/api/v4/mqtt/publish",
		`{"topics":"a/1,a/2","payload":"aGVsbG8=","encoding":"base64","qos":0,"retain":true,"clientid":"api"}`, true)
	if status != http.StatusOK || decodeEnvelope(t, b).Code != 0 {
		t.Fatalf("status %d body %s", status, b)
	}
	got := map[string]string{}
	for range 2 {
		p := a.next(t)
		got[p.Topic] = string(p.Payload)
	}
	if got["a/1"] != "hello" || got["a/2"] != "hello" {
		t.Fatalf("got %v, want hello on a/1 and a/2", got)
	}
	late := subscribe(t, e.mqtt, "sub-late", "a/2", 0)
	if p := late.next(t); p.Topic != "a/2" || string(p.Payload) != "hello" || !p.Retain {
		t.Fatalf("late subscriber got %q %q retain %v, want the retained a/2 hello", p.Topic, p.Payload, p.Retain)
	}
}

// TestPublishAuth: no credentials, a wrong secret, an unknown id and a disabled application
// get 401 with EMQX's codes, and publish nothing.
func TestPublishAuth(t *testing.T) {
	e := start(t, func(o *Options) {
		o.Apps = NewApps(testApp, App{ID: "off", Secret: "s", Enabled: false})
	})
	sub := subscribe(t, e.mqtt, "auth-sub", "t", 0)
	body := `{"topic":"t","payload":"x"}`
	f := func(user, pass string, wantCode int) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.base+"/api/v3/mqtt/publish", strings.NewReader(body))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s:%s: status %d, want 401 with WWW-Authenticate", user, pass, resp.StatusCode)
		}
		if env := decodeEnvelope(t, b); env.Code != wantCode || env.Message == "" {
			t.Fatalf("%s:%s: body %s, want code %d and a message", user, pass, b, wantCode)
		}
	}
	f("", "", codeNoAuth)
	f("user", "wrong", codeBadAuth)
	f("nobody", "passwd", codeBadAuth)
	f("off", "s", codeBadAuth)
	f("user", "", codeBadAuth)
	// Nothing was published: the next message is this one.
	if status, b := e.do(t, "POST", "/api/v3/mqtt/publish", `{"topic":"t","payload":"ok"}`, true); status != 200 {
		t.Fatalf("status %d %s", status, b)
	}
	if p := sub.next(t); string(p.Payload) != "ok" {
		t.Fatalf("got %q, want only the authenticated publish", p.Payload)
	}
	// Reads need credentials too; /metrics does not.
	if status, _ := e.do(t, "GET", "/api/v4/brokers", "", false); status != http.StatusUnauthorized {
		t.Fatalf("GET brokers without credentials: status %d, want 401", status)
	}
	if status, _ := e.do(t, "GET", "/metrics", "", false); status != http.StatusOK {
		t.Fatalf("GET /metrics without credentials: status %d, want 200", status)
	}
}

// TestPublishBadBodies: every malformed request gets a 400 with EMQX's code and a message
// naming the field, and publishes nothing (not even to the valid topics of the request).
func TestPublishBadBodies(t *testing.T) {
	e := start(t, func(o *Options) { o.MaxBodyBytes = 4096 })
	sub := subscribe(t, e.mqtt, "bad-sub", "#", 0)
	f := func(body string, wantCode int, wantInMessage string) {
		t.Helper()
		status, b := e.do(t, "POST", "/api/v4/mqtt/publish", body, true)
		env := decodeEnvelope(t, b)
		if status != http.StatusBadRequest || env.Code != wantCode || !strings.Contains(env.Message, wantInMessage) {
			t.Fatalf("body %.60q: status %d %s, want 400 code %d with %q in the message", body, status, b, wantCode, wantInMessage)
		}
	}
	f(``, codeNotJSON, "empty")
	f(`not json`, codeNotJSON, "not a JSON object")
	f(`{"topic":"t",`, codeNotJSON, "not valid JSON")
	f(`["t"]`, codeNotJSON, "not a JSON object")
	f(`{"topic":"t"} {"topic":"u"}`, codeNotJSON, "after its JSON object")
	f(`{"topic":"t","payload":"x","colour":"red"}`, codeParamType, `"colour"`)
	f(`{"payload":"x"}`, codeMissingParam, `"topic" or "topics"`)
	f(`{"topic":"","payload":"x"}`, codeMissingParam, `"topic" or "topics"`)
	f(`{"topic":7}`, codeParamType, `"topic" must be a string`)
	f(`{"topic":"t","payload":{"a":1}}`, codeParamType, `"payload" must be a string`)
	f(`{"topic":"t","qos":"1"}`, codeParamType, `"qos" must be an integer`)
	f(`{"topic":"t","qos":3}`, codeParamType, `"qos"`)
	f(`{"topic":"t","qos":1.5}`, codeParamType, `"qos"`)
	f(`{"topic":"t","qos":-1}`, codeParamType, `"qos"`)
	f(`{"topic":"t","retain":"false"}`, codeParamType, `"retain" must be true or false`)
	f(`{"topic":"t","retain":null}`, codeParamType, `"retain"`)
	f(`{"topic":"t","client_id":1}`, codeParamType, `"client_id"`)
	f(`{"topic":"t","client_id":"a","clientid":"b"}`, codeParamType, `"clientid"`)
	f(`{"topic":"t","payload":"%%%","encoding":"base64"}`, codeParamType, `"payload" is not valid base64`)
	f(`{"topic":"t","payload":"x","encoding":"hex"}`, codeParamType, `"encoding"`)
	f(`{"topic":"t/+","payload":"x"}`, codeBadTopic, `"topic"`)
	f(`{"topics":"ok/1,bad/#","payload":"x"}`, codeBadTopic, `"topics"`)
	f(`{"topic":"ok/2","topics":"ok/3,x/+","payload":"x"}`, codeBadTopic, `"topics"`)
	f(`{"topic":"t","payload":"`+strings.Repeat("x", 5000)+`"}`, codeNotJSON, "larger than 4096 bytes")

	// No partial effect: the subscriber to # got nothing before this marker.
	if status, b := e.do(t, "POST", "/api/v4/mqtt/publish", `{"topic":"marker","payload":"m"}`, true); status != 200 {
		t.Fatalf("status %d %s", status, b)
	}
	if p := sub.next(t); p.Topic != "marker" {
		t.Fatalf("a refused request published %q %q", p.Topic, p.Payload)
	}
}
