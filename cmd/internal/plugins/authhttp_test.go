package plugins

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/engine"
)

// httpBackend is a real HTTP auth service on 127.0.0.1: /auth allows user names starting
// with "ok" and password "pw", answers "ignore" for user "ign", hangs for user "slow", and
// refuses the rest; /super allows "root"; /acl allows topics under ok/, ignores those under
// ign/ and refuses the rest. It records every request's params.
type httpBackend struct {
	mu   sync.Mutex
	reqs []backendReq
	srv  *http.Server
	addr string
}

type backendReq struct {
	path, method, contentType string
	params                    map[string]string
}

func startBackend(t *testing.T, addr string) *httpBackend {
	t.Helper()
	b := &httpBackend{}
	ln, err := net.Listen("tcp", addr)
	for i := 0; err != nil && i < 50; i++ { // the port of a stopped backend may linger briefly
		time.Sleep(20 * time.Millisecond)
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve)}
	go b.srv.Serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *httpBackend) stop() { b.srv.Close() }

func (b *httpBackend) serve(w http.ResponseWriter, r *http.Request) {
	p := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.NewDecoder(r.Body).Decode(&p)
	} else {
		_ = r.ParseForm()
		for k, v := range r.Form {
			p[k] = v[0]
		}
	}
	b.mu.Lock()
	b.reqs = append(b.reqs, backendReq{path: r.URL.Path, method: r.Method, contentType: r.Header.Get("Content-Type"), params: p})
	b.mu.Unlock()
	switch r.URL.Path {
	case "/auth":
		switch u := p["username"]; {
		case u == "slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case u == "ign":
			w.Write([]byte("ignore"))
			return
		case strings.HasPrefix(u, "ok") || u == "root":
			if p["password"] == "pw" {
				w.Write([]byte("ok"))
				return
			}
		}
	case "/super":
		if p["username"] == "root" {
			return
		}
	case "/acl":
		switch {
		case strings.HasPrefix(p["topic"], "ok/"):
			return
		case strings.HasPrefix(p["topic"], "ign/"):
			w.Write([]byte("ignore"))
			return
		}
	}
	w.WriteHeader(http.StatusForbidden)
}

// last returns the last request to path.
func (b *httpBackend) last(path string) backendReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.reqs) - 1; i >= 0; i-- {
		if b.reqs[i].path == path {
			return b.reqs[i]
		}
	}
	return backendReq{}
}

func httpConf(addr, extra string) string {
	return "auth.http.auth_req = http://" + addr + "/auth\n" +
		"auth.http.auth_req.params = clientid=%c,username=%u,password=%P,ipaddr=%a,port=%p,fixed=yes\n" +
		"auth.http.super_req = http://" + addr + "/super\n" +
		"auth.http.super_req.params = clientid=%c,username=%u\n" +
		"auth.http.acl_req = http://" + addr + "/acl?v=1\n" +
		"auth.http.acl_req.method = get\n" +
		"auth.http.acl_req.params = access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t,mountpoint=%m\n" +
		"auth.http.request.timeout = 1s\n" +
		"auth.http.request.retry_times = 0\n" + extra
}

// client connects a paho MQTT 3.1.1 client that must be accepted.
func client(t *testing.T, n *engine.Node, id, user, pass string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + n.Addr("external")).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// subscribeCode subscribes to filter and returns the SUBACK return code.
func subscribeCode(t *testing.T, c mqtt.Client, filter string, h mqtt.MessageHandler) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, h)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("subscribe %s: no SUBACK", filter)
	}
	return tok.(*mqtt.SubscribeToken).Result()[filter]
}

// TestHTTPPlugin: allow, deny, ignore and superuser through a real HTTP service; the params
// carry the placeholders' values, URL-encoded so that a user name cannot add parameters.
func TestHTTPPlugin(t *testing.T) {
	n := startNode(t, false)
	b := startBackend(t, "127.0.0.1:0")
	e := testEnv(t)
	writePluginConf(t, e, "emqx_auth_http", httpConf(b.addr, ""))
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Load("emqx_auth_http"); err != nil {
		t.Fatal(err)
	}

	wantConnect(t, n, "h1", "ok1", "pw", nil)
	got := b.last("/auth")
	_, port, _ := net.SplitHostPort(n.Addr("external"))
	want := map[string]string{"clientid": "h1", "username": "ok1", "password": "pw", "ipaddr": "127.0.0.1", "port": port, "fixed": "yes"}
	if got.method != http.MethodPost || got.contentType != "application/x-www-form-urlencoded" || !sameMap(got.params, want) {
		t.Errorf("auth request: %s %s %v, want POST form %v", got.method, got.contentType, got.params, want)
	}
	wantConnect(t, n, "h2", "ok1", "bad", errBadCreds)
	wantConnect(t, n, "h3", "stranger", "pw", errBadCreds)
	wantConnect(t, n, "h4", "ign", "pw", errBadCreds) // ignored; allow_anonymous = false decides

	// The injection attempt stays one value: the backend sees the whole user name and the
	// real password.
	evil := "ok&password=pw&username=root"
	wantConnect(t, n, "h5", evil, "nope", errBadCreds)
	if got := b.last("/auth"); got.params["username"] != evil || got.params["password"] != "nope" {
		t.Errorf("injection: backend got %v", got.params)
	}

	// ACL: a plain user is asked about; root (superuser) is not.
	sub := client(t, n, "s1", "root", "pw")
	if got := b.last("/super"); got.params["username"] != "root" || got.params["clientid"] != "s1" {
		t.Errorf("super request: %v", got.params)
	}
	msgs := make(chan string, 10)
	if code := subscribeCode(t, sub, "#", func(_ mqtt.Client, m mqtt.Message) { msgs <- m.Topic() }); code != 1 {
		t.Fatalf("superuser subscribe #: code %d", code)
	}
	if b.last("/acl").path != "" {
		t.Errorf("the superuser's subscription was checked by the backend: %v", b.last("/acl"))
	}
	u := client(t, n, "u1", "ok2", "pw")
	if code := subscribeCode(t, u, "ok/a", nil); code != 1 {
		t.Errorf("subscribe ok/a: code %#x, want 1", code)
	}
	if got := b.last("/acl"); got.method != http.MethodGet || !sameMap(got.params, map[string]string{"v": "1", "access": "1", "username": "ok2", "clientid": "u1", "ipaddr": "127.0.0.1", "topic": "ok/a", "mountpoint": ""}) {
		t.Errorf("acl request: %s %v", got.method, got.params)
	}
	if code := subscribeCode(t, u, "no/a", nil); code != 0x80 {
		t.Errorf("subscribe no/a: code %#x, want 0x80", code)
	}
	if code := subscribeCode(t, u, "ign/a", nil); code != 1 { // ignored: acl.conf allows
		t.Errorf("subscribe ign/a: code %#x, want 1", code)
	}
	for _, topic := range []string{"no/x", "ok/x&topic=ok/y"} {
		u.Publish(topic, 1, false, "p").WaitTimeout(5 * time.Second)
	}
	u.Publish("ok/x", 1, false, "p").WaitTimeout(5 * time.Second)
	select {
	case got := <-msgs:
		if got != "ok/x&topic=ok/y" {
			t.Errorf("first message delivered: %s, want ok/x&topic=ok/y (no/x is denied)", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("allowed publish not delivered")
	}
	if got := <-msgs; got != "ok/x" {
		t.Errorf("second message delivered: %s, want ok/x", got)
	}
	if got := b.last("/acl"); got.params["access"] != "2" {
		t.Errorf("publish check: %v", got.params)
	}
}

// TestHTTPPluginJSON: content_type = json sends the params as a JSON object.
func TestHTTPPluginJSON(t *testing.T) {
	n := startNode(t, false)
	b := startBackend(t, "127.0.0.1:0")
	e := testEnv(t)
	writePluginConf(t, e, "emqx_auth_http", httpConf(b.addr, "auth.http.auth_req.content_type = json\n"))
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Load("emqx_auth_http"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "j\"1", "ok\",\"x", "pw", nil)
	if got := b.last("/auth"); got.contentType != "application/json" || got.params["username"] != "ok\",\"x" || got.params["clientid"] != "j\"1" {
		t.Errorf("json auth request: %s %v", got.contentType, got.params)
	}
}

// TestHTTPPluginOutage: a backend that hangs or is stopped refuses new clients with "server
// unavailable" after the timeout, logged once per outage; connected clients carry on; the
// plugin recovers by itself when the backend is back.
func TestHTTPPluginOutage(t *testing.T) {
	n := startNode(t, false)
	b := startBackend(t, "127.0.0.1:0")
	e := testEnv(t)
	writePluginConf(t, e, "emqx_auth_http", httpConf(b.addr, ""))
	var logBuf syncBuffer
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err := m.Load("emqx_auth_http"); err != nil {
		t.Fatal(err)
	}
	root := client(t, n, "r", "root", "pw")
	msgs := make(chan string, 10)
	subscribeCode(t, root, "#", func(_ mqtt.Client, m mqtt.Message) { msgs <- m.Topic() })

	start := time.Now()
	wantConnect(t, n, "slow1", "slow", "pw", packets.ErrorRefusedServerUnavailable)
	if d := time.Since(start); d < time.Second {
		t.Errorf("a hanging backend was given up after %v, before auth.http.request.timeout (1s)", d)
	}

	b.stop()
	for i := 0; i < 3; i++ {
		wantConnect(t, n, "down", "ok1", "pw", packets.ErrorRefusedServerUnavailable)
	}
	root.Publish("still/works", 0, false, "x").WaitTimeout(5 * time.Second)
	select {
	case <-msgs:
	case <-time.After(5 * time.Second):
		t.Error("a connected superuser stopped working during the outage")
	}
	if c := strings.Count(logBuf.String(), "does not answer"); c != 1 {
		// The hanging backend and the stopped one are one outage: nothing answered in between.
		t.Errorf("outage logged %d times, want once:\n%s", c, logBuf.String())
	}

	startBackend(t, b.addr)
	wantConnect(t, n, "back", "ok1", "pw", nil)
	if !strings.Contains(logBuf.String(), "answers again") {
		t.Errorf("recovery not logged:\n%s", logBuf.String())
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
