package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// get GETs path with credentials, requires 200 and code 0, and decodes data into v.
func (e *env) get(t *testing.T, path string, v any) {
	t.Helper()
	status, b := e.do(t, "GET", path, "", true)
	env := decodeEnvelope(t, b)
	if status != http.StatusOK || env.Code != 0 {
		t.Fatalf("GET %s: status %d %s", path, status, b)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("GET %s: data %s: %v", path, env.Data, err)
	}
}

// TestBrokersNodesStatsMetrics checks EMQX 4.x's shapes of the read endpoints, under /api/v4
// and /api/v3 (with 3.x's trailing slash), for the list and the one-node forms.
func TestBrokersNodesStatsMetrics(t *testing.T) {
	e := start(t, nil)
	subscribe(t, e.mqtt, "stats-sub", "s/1", 0)
	name := e.node.Name()

	var brokers []map[string]any
	e.get(t, "/api/v4/brokers", &brokers)
	if len(brokers) != 1 || brokers[0]["node"] != name || brokers[0]["version"] != engine.Version ||
		brokers[0]["node_status"] != "Running" || brokers[0]["sysdescr"] != engine.SysDescr {
		t.Fatalf("brokers: %v", brokers)
	}
	for _, k := range []string{"datetime", "uptime", "otp_release"} {
		if s, _ := brokers[0][k].(string); s == "" {
			t.Errorf("brokers: %s missing in %v", k, brokers[0])
		}
	}
	var one map[string]any
	e.get(t, "/api/v3/brokers/"+name+"/", &one)
	if one["node"] != name {
		t.Fatalf("brokers/%s: %v", name, one)
	}

	var nodes []map[string]any
	e.get(t, "/api/v4/nodes", &nodes)
	if len(nodes) != 1 || nodes[0]["node"] != name || nodes[0]["name"] != name {
		t.Fatalf("nodes: %v", nodes)
	}
	for _, k := range []string{"connections", "load1", "load5", "load15", "max_fds", "memory_total", "memory_used", "process_used", "uptime", "version", "node_status", "otp_release"} {
		if _, ok := nodes[0][k]; !ok {
			t.Errorf("nodes: %s missing in %v", k, nodes[0])
		}
	}
	e.get(t, "/api/v4/nodes/"+name, &one)
	if one["node"] != name {
		t.Fatalf("nodes/%s: %v", name, one)
	}

	// Stats: the subscriber's connection and subscription show (after a sweep).
	waitStats := func(path string, get func() map[string]int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st := get()
			if st["connections.count"] == 1 && st["subscriptions.count"] == 1 && st["topics.count"] == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v, want 1 connection, subscription and topic", path, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStats("/api/v4/stats", func() map[string]int64 {
		var list []struct {
			Node  string           `json:"node"`
			Stats map[string]int64 `json:"stats"`
		}
		e.get(t, "/api/v4/stats", &list)
		if len(list) != 1 || list[0].Node != name {
			t.Fatalf("stats: %+v", list)
		}
		return list[0].Stats
	})
	waitStats("/api/v4/nodes/{node}/stats", func() map[string]int64 {
		var st map[string]int64
		e.get(t, "/api/v4/nodes/"+name+"/stats", &st)
		return st
	})

	var metrics []struct {
		Node    string            `json:"node"`
		Metrics map[string]uint64 `json:"metrics"`
	}
	e.get(t, "/api/v4/metrics", &metrics)
	if len(metrics) != 1 || metrics[0].Node != name || len(metrics[0].Metrics) != len(e.node.Metrics()) {
		t.Fatalf("metrics: %+v", metrics)
	}
	if _, ok := metrics[0].Metrics["packets.subscribe"]; !ok {
		t.Fatalf("metrics: no packets.subscribe in %v", metrics[0].Metrics)
	}
	var nm map[string]uint64
	e.get(t, "/api/v3/nodes/"+name+"/metrics/", &nm)
	if _, ok := nm["messages.received"]; !ok {
		t.Fatalf("nodes/%s/metrics: %v", name, nm)
	}

	// Another node's name, an unknown path, a wrong method.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v4/nodes/emqx@elsewhere", http.StatusNotFound},
		{"GET", "/api/v4/brokers/emqx@elsewhere", http.StatusNotFound},
		{"GET", "/api/v4/nothing", http.StatusNotFound},
		{"GET", "/nothing", http.StatusNotFound},
		{"GET", "/api/v4/mqtt/publish", http.StatusMethodNotAllowed},
		{"DELETE", "/api/v4/brokers", http.StatusMethodNotAllowed},
	} {
		if status, b := e.do(t, c.method, c.path, "", true); status != c.status {
			t.Errorf("%s %s: status %d %s, want %d", c.method, c.path, status, b, c.status)
		}
	}
}

// TestMaxClients: with max_clients 1 a second connection is not served while the first one
// is open, and is served once it closes.
func TestMaxClients(t *testing.T) {
	e := start(t, func(o *Options) { o.MaxClients = 1 })
	first, err := net.Dial("tcp", e.api.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first connection is being served: a request on it gets its answer.
	request := "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := first.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	resp.Body.Close()

	second, err := net.Dial("tcp", e.api.Addr()) // completes in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	_ = second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	br := bufio.NewReader(second)
	if _, err := br.Peek(1); err == nil {
		t.Fatal("the second connection was answered while the first was open (max_clients 1)")
	} else if ne := (net.Error)(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("second connection: %v, want a read timeout", err)
	}
	first.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second connection after the first closed: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestStopGraceful: Stop lets a request in progress finish, then the port is closed.
func TestStopGraceful(t *testing.T) {
	e := start(t, func(o *Options) { o.ReadTimeout = 10 * time.Second })
	conn, err := net.Dial("tcp", e.api.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request whose body is still coming when Stop starts.
	body := `{"topic":"t","payload":"late"}`
	head := "POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Authorization: Basic dXNlcjpwYXNzd2Q=\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + body[:5])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server start reading the request
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- e.api.Stop(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := conn.Write([]byte(body[5:])); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request in progress at Stop: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", e.api.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the API port still accepts connections after Stop")
	}
}
