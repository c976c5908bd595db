package cluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

var (
	trioOnce sync.Once
	trio     []*node
)

// threeNodes returns a cluster of nodes 1, 2 and 3, formed once with `emqx_ctl cluster
// join` (2 and 3 join 1) and shared by the tests that do not change its membership.
func threeNodes(t testing.TB) []*node {
	t.Helper()
	trioOnce.Do(func() {
		ns := []*node{startNode(t, 1), startNode(t, 2), startNode(t, 3)}
		out, code := ns[1].ctl(t, "cluster", "join", ns[0].name)
		if want := "Join the cluster successfully.\n" + status(ns[:2], nil); code != 0 || out != want {
			t.Fatalf("join: %d %q, want %q", code, out, want)
		}
		out, code = ns[2].ctl(t, "cluster", "join", ns[0].name)
		if want := "Join the cluster successfully.\n" + status(ns, nil); code != 0 || out != want {
			t.Fatalf("join: %d %q, want %q", code, out, want)
		}
		trio = ns
	})
	if trio == nil {
		t.Fatal("the three-node cluster did not form")
	}
	return trio
}

func TestJoinAndStatus(t *testing.T) {
	ns := threeNodes(t)
	for _, n := range ns {
		n.waitStatus(t, status(ns, nil), 5*time.Second)
	}
	if out, code := ns[2].ctl(t, "cluster", "join", ns[1].name); code == 0 || out != "Failed to join the cluster: {already_in_cluster,'"+ns[1].name+"'}\n" {
		t.Fatalf("join again: %d %q", code, out)
	}
	if out, code := ns[0].ctl(t, "cluster", "join", ns[0].name); code != 0 || out != "Ignore.\n" {
		t.Fatalf("join self: %d %q", code, out)
	}
	if out, code := ns[0].ctl(t, "cluster", "bogus"); code == 0 || !strings.Contains(out, "cluster force-leave <Node>") {
		t.Fatalf("usage: %d %q", code, out)
	}
}

// TestPublishEveryQoS publishes on node 1 and receives on nodes 2 and 3 at QoS 0, 1 and 2,
// with MQTT 5 properties, and on node 1 from node 3.
func TestPublishEveryQoS(t *testing.T) {
	ns := threeNodes(t)
	pub := ns[0].connect(t, "pub-qos", nil)
	for qos := byte(0); qos <= 2; qos++ {
		filter := fmt.Sprintf("qos%d/#", qos)
		var rs []*received
		for _, n := range ns[1:] {
			r := newReceived()
			c := n.connect(t, fmt.Sprintf("sub-qos%d-%d", qos, n.i), r)
			subscribe(t, c, filter, qos)
			awaitRoute(t, pub, fmt.Sprintf("qos%d/probe", qos), r)
			rs = append(rs, r)
		}
		for k := range 20 {
			publish(t, pub, &paho.Publish{Topic: fmt.Sprintf("qos%d/m", qos), QoS: qos, Payload: []byte(fmt.Sprint(k)),
				Properties: &paho.PublishProperties{ContentType: "text/plain", User: paho.UserProperties{{Key: "k", Value: "v"}}, CorrelationData: []byte("cd")}})
		}
		for i, r := range rs {
			for k := range 20 {
				p := r.next(t)
				if p.Topic != fmt.Sprintf("qos%d/m", qos) || string(p.Payload) != fmt.Sprint(k) || p.QoS != qos {
					t.Fatalf("node %d, QoS %d, message %d: got %q %q at QoS %d", i+2, qos, k, p.Topic, p.Payload, p.QoS)
				}
				if p.Properties == nil || p.Properties.ContentType != "text/plain" || p.Properties.User.Get("k") != "v" || string(p.Properties.CorrelationData) != "cd" {
					t.Fatalf("node %d: properties not carried: %+v", i+2, p.Properties)
				}
			}
			r.none(t, 200*time.Millisecond) // once per node and subscriber
		}
	}
	// The other way round, and a subscriber on the publisher's node gets it once too.
	r1 := newReceived()
	c1 := ns[0].connect(t, "sub-back", r1)
	subscribe(t, c1, "back/#", 1)
	pub3 := ns[2].connect(t, "pub-back", nil)
	awaitRoute(t, pub3, "back/probe", r1)
	publish(t, pub3, &paho.Publish{Topic: "back/x", QoS: 1, Payload: []byte("from 3")})
	if p := r1.next(t); string(p.Payload) != "from 3" || p.QoS != 1 {
		t.Fatalf("got %q at QoS %d", p.Payload, p.QoS)
	}
	r1.none(t, 200*time.Millisecond)
}

// TestOverlappingAndNoInterest: a node with two matching filters gets one copy per
// subscriber; a node without a matching subscriber gets nothing.
func TestOverlappingAndNoInterest(t *testing.T) {
	ns := threeNodes(t)
	r2 := newReceived()
	c2 := ns[1].connect(t, "ov-2", r2)
	subscribe(t, c2, "ov/+/x", 1)
	r2b := newReceived()
	c2b := ns[1].connect(t, "ov-2b", r2b)
	subscribe(t, c2b, "ov/#", 1)
	r3 := newReceived()
	c3 := ns[2].connect(t, "ov-3", r3)
	subscribe(t, c3, "other/#", 1)
	pub := ns[0].connect(t, "ov-pub", nil)
	awaitRoute(t, pub, "ov/a/x", r2)
	drain(r2b, "ov/a/x", 300*time.Millisecond)
	publish(t, pub, &paho.Publish{Topic: "ov/b/x", QoS: 1, Payload: []byte("one")})
	if p := r2.next(t); string(p.Payload) != "one" {
		t.Fatalf("got %q", p.Payload)
	}
	if p := r2b.next(t); string(p.Payload) != "one" {
		t.Fatalf("got %q", p.Payload)
	}
	r2.none(t, 200*time.Millisecond)
	r2b.none(t, 100*time.Millisecond)
	r3.none(t, 100*time.Millisecond)

	// Unsubscribing removes the interest: the filter's route goes away.
	if _, err := c2.Unsubscribe(ctx5(t), &paho.Unsubscribe{Topics: []string{"ov/+/x"}}); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, &paho.Publish{Topic: "ov/c/x", QoS: 1, Payload: []byte("two")})
	if p := r2b.next(t); string(p.Payload) != "two" {
		t.Fatalf("got %q", p.Payload)
	}
	r2.none(t, 200*time.Millisecond)
}

// TestRetainedOnAnotherNode: a retained message published on node 1 reaches a subscriber
// that arrives later on node 3, with the RETAIN flag; deleting it deletes it everywhere.
func TestRetainedOnAnotherNode(t *testing.T) {
	ns := threeNodes(t)
	pub := ns[0].connect(t, "ret-pub", nil)
	publish(t, pub, &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("kept")})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := newReceived()
		c := ns[2].connect(t, fmt.Sprintf("ret-sub-%d", time.Now().UnixNano()), r)
		subscribe(t, c, "ret/#", 1)
		select {
		case p := <-r.ch:
			if string(p.Payload) != "kept" || !p.Retain || p.QoS != 1 {
				t.Fatalf("got %q retain=%v qos=%d", p.Payload, p.Retain, p.QoS)
			}
			c.Disconnect(&paho.Disconnect{})
			goto deleted
		case <-time.After(300 * time.Millisecond):
		}
		c.Disconnect(&paho.Disconnect{})
		if time.Now().After(deadline) {
			t.Fatal("the retained message did not reach node 3")
		}
	}
deleted:
	publish(t, pub, &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true})
	time.Sleep(500 * time.Millisecond)
	r := newReceived()
	c := ns[1].connect(t, "ret-sub-late", r)
	subscribe(t, c, "ret/#", 1)
	r.none(t, 500*time.Millisecond)
}

// TestSharedAcrossNodes: a shared group with members on nodes 2 and 3 gets each message
// published on node 1 once.
func TestSharedAcrossNodes(t *testing.T) {
	ns := threeNodes(t)
	r := newReceived() // both members report here
	c2 := ns[1].connect(t, "sh-2", r)
	subscribe(t, c2, "$share/g/sh/#", 1)
	c3 := ns[2].connect(t, "sh-3", r)
	subscribe(t, c3, "$share/g/sh/#", 1)
	pub := ns[0].connect(t, "sh-pub", nil)
	awaitRoute(t, pub, "sh/probe", r)
	time.Sleep(300 * time.Millisecond) // both members' routes
	drain(r, "sh/probe", 200*time.Millisecond)
	const total = 40
	for k := range total {
		publish(t, pub, &paho.Publish{Topic: "sh/m", QoS: 1, Payload: []byte(fmt.Sprint(k))})
	}
	seen := map[string]bool{}
	for range total {
		p := r.next(t)
		if seen[string(p.Payload)] {
			t.Fatalf("message %q delivered twice to the group", p.Payload)
		}
		seen[string(p.Payload)] = true
	}
	r.none(t, 300*time.Millisecond)
}

// TestSysBrokersAndAPINodes: $SYS/brokers lists the running nodes.
func TestSysBrokers(t *testing.T) {
	ns := threeNodes(t)
	want := ns[0].name + "," + ns[1].name + "," + ns[2].name
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := newReceived()
		c := ns[1].connect(t, fmt.Sprintf("sys-%d", time.Now().UnixNano()), r)
		subscribe(t, c, "$SYS/brokers", 0)
		got := ""
		select {
		case p := <-r.ch:
			got = string(p.Payload)
		case <-time.After(2 * time.Second):
		}
		c.Disconnect(&paho.Disconnect{})
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("$SYS/brokers = %q, want %q", got, want)
		}
	}
}

// TestAPINodes: /api/v4/nodes answers for every running node.
func TestAPINodes(t *testing.T) {
	ns := threeNodes(t)
	req, _ := http.NewRequest("GET", "http://"+ns[0].api+"/api/v4/nodes", nil)
	req.SetBasicAuth("admin", "public")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Code int `json:"code"`
		Data []struct {
			Node       string `json:"node"`
			NodeStatus string `json:"node_status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Code != 0 {
		t.Fatalf("%s: %v", b, err)
	}
	var got []string
	for _, d := range body.Data {
		got = append(got, d.Node+":"+d.NodeStatus)
	}
	if want := []string{ns[0].name + ":Running", ns[1].name + ":Running", ns[2].name + ":Running"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("nodes %v, want %v", got, want)
	}
}

// TestTakeoverAcrossNodes: a client id connected to node 1 and then to node 2 is taken over:
// the first connection gets DISCONNECT 0x8E, and its session on node 1 ends (its
// subscription no longer receives anything there).
func TestTakeoverAcrossNodes(t *testing.T) {
	ns := threeNodes(t)
	gone := make(chan byte, 1)
	conn, err := net.Dial("tcp", ns[0].mqtt)
	if err != nil {
		t.Fatal(err)
	}
	r1 := newReceived()
	old := paho.NewClient(paho.ClientConfig{Conn: conn,
		OnPublishReceived:  []func(paho.PublishReceived) (bool, error){r1.handler},
		OnServerDisconnect: func(d *paho.Disconnect) { gone <- d.ReasonCode }})
	if _, err := old.Connect(ctx5(t), &paho.Connect{ClientID: "roamer", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, old, "roam/#", 1)
	time.Sleep(200 * time.Millisecond)

	r2 := newReceived()
	c2 := ns[1].connect(t, "roamer", r2)
	select {
	case code := <-gone:
		if code != 0x8E {
			t.Fatalf("DISCONNECT %#x, want 0x8E", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on node 1 was not taken over")
	}
	subscribe(t, c2, "roam/#", 1)
	pub := ns[2].connect(t, "roam-pub", nil)
	awaitRoute(t, pub, "roam/probe", r2)
	publish(t, pub, &paho.Publish{Topic: "roam/x", QoS: 1, Payload: []byte("here")})
	if p := r2.next(t); string(p.Payload) != "here" {
		t.Fatalf("got %q", p.Payload)
	}
	r2.none(t, 200*time.Millisecond)
	out, _ := ns[0].ctl(t, "sessions", "show", "roamer")
	if !strings.Contains(out, "Not Found") {
		t.Fatalf("node 1 still has the session: %q", out)
	}
}

// TestRetainedCopiedToJoiningNode: a node that joins gets the retained messages the cluster
// already has.
func TestRetainedCopiedToJoiningNode(t *testing.T) {
	ns := threeNodes(t)
	pub := ns[0].connect(t, "late-pub", nil)
	publish(t, pub, &paho.Publish{Topic: "late/x", QoS: 1, Retain: true, Payload: []byte("before")})
	n10 := startNode(t, 10)
	if out, code := n10.ctl(t, "cluster", "join", ns[1].name); code != 0 {
		t.Fatalf("join: %d %q", code, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := newReceived()
		c := n10.connect(t, fmt.Sprintf("late-sub-%d", time.Now().UnixNano()), r)
		subscribe(t, c, "late/#", 1)
		got := ""
		select {
		case p := <-r.ch:
			got = string(p.Payload)
		case <-time.After(300 * time.Millisecond):
		}
		c.Disconnect(&paho.Disconnect{})
		if got == "before" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained message on the joining node: %q", got)
		}
	}
	// It leaves again, so that the shared cluster stays three.
	if out, code := n10.ctl(t, "cluster", "leave"); code != 0 {
		t.Fatalf("leave: %d %q", code, out)
	}
	ns[0].waitStatus(t, status(ns, nil), 5*time.Second)
}

// TestRoutesList: `emqx_ctl routes list` shows the other nodes' routes too.
func TestRoutesList(t *testing.T) {
	ns := threeNodes(t)
	r := newReceived()
	c := ns[2].connect(t, "routes-sub", r)
	subscribe(t, c, "rl/+/x", 0)
	subscribe(t, c, "$share/g/rl/shared", 0)
	want := "rl/+/x -> " + ns[2].name + "\n"
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := ns[0].ctl(t, "routes", "show", "rl/+/x")
		shared, _ := ns[1].ctl(t, "routes", "show", "rl/shared")
		if out == want && shared == "rl/shared -> "+ns[2].name+"\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes show: %q and %q", out, shared)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
