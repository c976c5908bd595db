package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestHTTPAPIServed: a node started from the shipped configuration serves the HTTP API on
// management.listener.http with the default application admin/public, publishes to an MQTT
// subscriber through it, serves /metrics, and stops with the node.
func TestHTTPAPIServed(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	apiAddr := apiAddrOf(env)
	foreground(t, emqx, work, env)

	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *paho.Publish, 1)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { got <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "api-sub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "world", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	post := func(user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+apiAddr+"/api/v3/mqtt/publish",
			strings.NewReader(`{"qos":1, "retain": false, "topic":"world", "payload":"test" , "client_id": "C_1492145414740"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if status, body := post("admin", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d %s, want 401", status, body)
	}
	if status, body := post("admin", "public"); status != http.StatusOK || body != `{"code":0}` {
		t.Fatalf("publish as admin/public: %d %s", status, body)
	}
	select {
	case p := <-got:
		if p.Topic != "world" || string(p.Payload) != "test" || p.QoS != 1 {
			t.Fatalf("got %q %q qos %d", p.Topic, p.Payload, p.QoS)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber got nothing")
	}

	resp, err := http.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "\nemqx_connections_count ") {
		t.Fatalf("/metrics: %d\n%.300s", resp.StatusCode, b)
	}
}
