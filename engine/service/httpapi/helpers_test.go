package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
)

// testApp is the application the tests log in with (the guide's curl example says
// -u user:passwd).
var testApp = App{ID: "user", Secret: "passwd", Name: "test", Enabled: true}

// env is a running node with its HTTP API, both on 127.0.0.1 ports of their own.
type env struct {
	node *engine.Node
	api  *Server
	mqtt string // the MQTT listener's address
	base string // http://127.0.0.1:port
}

// start starts a node and the API in front of it (mutate adjusts the API options); both
// stop when the test ends.
func start(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	return startWith(t, nil, mutate)
}

// startWith is start with the node's configuration adjusted by node first.
func startWith(t *testing.T, node func(*engine.Config), mutate func(*Options)) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := &engine.Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: engine.DefaultZone()}},
		AllowAnonymous: true,
		LoopCount:      2,
		SweepInterval:  20 * time.Millisecond,
	}
	if node != nil {
		node(cfg)
	}
	var n *engine.Node
	var err error
	for attempt := 1; ; attempt++ {
		if n, err = engine.New(cfg, log); err != nil {
			t.Fatal(err)
		}
		// Start probes a free port and binds it again in gnet: another socket may take it in
		// between, so retry that case.
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
			t.Errorf("stopping the node: %v", err)
		}
	})
	opts := Options{Addr: "127.0.0.1:0", Apps: NewApps(testApp), Log: log}
	if mutate != nil {
		mutate(&opts)
	}
	api, err := Start(n, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := api.Stop(ctx); err != nil {
			t.Errorf("stopping the API: %v", err)
		}
	})
	return &env{node: n, api: api, mqtt: n.Addr("external"), base: "http://" + api.Addr()}
}

// do sends a request (no body when body is "") with the test application's credentials when
// auth, and returns the status and the body.
func (e *env) do(t *testing.T, method, path, body string, auth bool) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.SetBasicAuth(testApp.ID, testApp.Secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// envelope is EMQX's response body.
type envelope struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func decodeEnvelope(t *testing.T, b []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("response %q is not EMQX's JSON envelope: %v", b, err)
	}
	return e
}

// subscriber is a paho MQTT 5 client subscribed to filter; its messages arrive on msgs.
type subscriber struct {
	msgs chan *paho.Publish
}

func subscribe(t *testing.T, addr, id, filter string, qos byte) *subscriber {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &subscriber{msgs: make(chan *paho.Publish, 64)}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { s.msgs <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("connect %q: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %q: %v %v", filter, sa, err)
	}
	return s
}

// next waits for the next message.
func (s *subscriber) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-s.msgs:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
		return nil
	}
}
