package cluster_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// The tests of sessions moving between nodes and of wills of stopping nodes run on the
// shared three-node cluster (threeNodes); the will tests stop node 3 and start it again.

// connect5 connects an MQTT 5 client with the given options and returns it with its
// CONNACK; gone receives the reason code of a DISCONNECT from the server.
func connect5(t *testing.T, n *node, cp *paho.Connect, r *received, manualAck bool, gone chan byte) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", n.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, EnableManualAcknowledgment: manualAck}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	if gone != nil {
		cfg.OnServerDisconnect = func(d *paho.Disconnect) { gone <- d.ReasonCode }
	}
	c := paho.NewClient(cfg)
	ack, err := c.Connect(ctx5(t), cp)
	if err != nil {
		t.Fatalf("connect %q to %s: %v", cp.ClientID, n.name, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack
}

func u32(v uint32) *uint32 { return &v }
func u16(v uint16) *uint16 { return &v }

// noSession requires that node n has no session of clientID.
func noSession(t *testing.T, n *node, clientID string) {
	t.Helper()
	out, _ := n.ctl(t, "sessions", "show", clientID)
	if !strings.Contains(out, "Not Found") {
		t.Fatalf("%s still has the session of %s: %q", n.name, clientID, out)
	}
}

// TestSessionMovesOnTakeover (MQTT 5): a client on node 1 with two QoS 1 messages in flight
// (Receive Maximum 2, not acknowledged) and three queued behind them connects to node 2
// without clean start: the old connection gets 0x8E, the new one Session Present 1, the two
// in flight again with DUP then the three queued, in order; the subscription now lives on
// node 2 (a publish on node 3 reaches it) and node 1 has no session left.
func TestSessionMovesOnTakeover(t *testing.T) {
	ns := threeNodes(t)
	r1 := newReceived()
	gone := make(chan byte, 1)
	old, _ := connect5(t, ns[0], &paho.Connect{ClientID: "mover5", KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300), ReceiveMaximum: u16(2)}}, r1, true, gone)
	subscribe(t, old, "mv5/#", 1)
	pub := ns[2].connect(t, "mv5-pub", nil)
	awaitRoute(t, pub, "mv5/probe", r1)
	for k := range 5 {
		publish(t, pub, &paho.Publish{Topic: "mv5/m", QoS: 1, Payload: []byte(fmt.Sprint(k))})
	}
	for k := range 2 {
		if p := r1.next(t); string(p.Payload) != fmt.Sprint(k) {
			t.Fatalf("old connection, message %d: %q", k, p.Payload)
		}
	}
	r1.none(t, 200*time.Millisecond) // the window is full: three wait in the queue

	r2 := newReceived()
	c2, ack := connect5(t, ns[1], &paho.Connect{ClientID: "mover5", KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, r2, false, nil)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 after a takeover from another node")
	}
	select {
	case code := <-gone:
		if code != 0x8E {
			t.Fatalf("DISCONNECT %#x, want 0x8E", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on node 1 was not taken over")
	}
	for k := range 5 {
		p := r2.next(t)
		if string(p.Payload) != fmt.Sprint(k) || p.QoS != 1 {
			t.Fatalf("new connection, message %d: %q QoS %d", k, p.Payload, p.QoS)
		}
		if dup := k < 2; p.Duplicate() != dup {
			t.Fatalf("message %d: DUP %v, want %v", k, p.Duplicate(), dup)
		}
	}
	awaitRoute(t, pub, "mv5/probe", r2)
	publish(t, pub, &paho.Publish{Topic: "mv5/m", QoS: 1, Payload: []byte("after")})
	if p := r2.next(t); string(p.Payload) != "after" {
		t.Fatalf("after the move: %q", p.Payload)
	}
	r2.none(t, 300*time.Millisecond)
	noSession(t, ns[0], "mover5")
	_ = c2
}

// TestSessionMovesOnTakeover311: the same with MQTT 3.1.1 clients (clean session 0): the
// zone's 32 in flight and the rest queued move, the old connection is closed.
func TestSessionMovesOnTakeover311(t *testing.T) {
	ns := threeNodes(t)
	got1 := make(chan mqtt3.Message, 100)
	lost := make(chan error, 1)
	opts := mqtt3.NewClientOptions().AddBroker("tcp://" + ns[0].mqtt).SetClientID("mover3").SetCleanSession(false).
		SetAutoReconnect(false).SetAutoAckDisabled(true).SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) { lost <- err })
	old := mqtt3.NewClient(opts)
	if tok := old.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer old.Disconnect(0)
	if tok := old.Subscribe("mv3/#", 1, func(_ mqtt3.Client, m mqtt3.Message) { got1 <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := ns[2].connect(t, "mv3-pub", nil)
	// Route probe: QoS 0 messages until one arrives.
	deadline := time.Now().Add(10 * time.Second)
probe:
	for {
		publish(t, pub, &paho.Publish{Topic: "mv3/probe", QoS: 0, Payload: []byte("probe")})
		select {
		case <-got1:
			break probe
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no route within 10s")
		}
	}
	time.Sleep(300 * time.Millisecond)
	for len(got1) > 0 {
		<-got1
	}
	const total = 40
	for k := range total {
		publish(t, pub, &paho.Publish{Topic: "mv3/m", QoS: 1, Payload: []byte(fmt.Sprint(k))})
	}
	for k := range 32 { // max_inflight 32: the rest wait in the queue
		select {
		case m := <-got1:
			if string(m.Payload()) != fmt.Sprint(k) {
				t.Fatalf("old connection, message %d: %q", k, m.Payload())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("old connection: message %d not received", k)
		}
	}

	got2 := make(chan mqtt3.Message, 100)
	opts2 := mqtt3.NewClientOptions().AddBroker("tcp://" + ns[1].mqtt).SetClientID("mover3").SetCleanSession(false).
		SetAutoReconnect(false).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { got2 <- m })
	c2 := mqtt3.NewClient(opts2)
	tok := c2.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to node 2: %v", tok.Error())
	}
	defer c2.Disconnect(100)
	if !tok.(*mqtt3.ConnectToken).SessionPresent() {
		t.Fatal("session present 0 after a takeover from another node")
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on node 1 was not closed")
	}
	for k := range total {
		select {
		case m := <-got2:
			if string(m.Payload()) != fmt.Sprint(k) || m.Duplicate() != (k < 32) {
				t.Fatalf("new connection, message %d: %q dup %v", k, m.Payload(), m.Duplicate())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("new connection: message %d not received", k)
		}
	}
	noSession(t, ns[0], "mover3")
}

// TestPersistentSessionResumedElsewhere: a client with a session expiry disconnects from
// node 1; QoS 1 messages published on node 3 queue there; it reconnects to node 2 without
// clean start and finds its session (Session Present 1) and the messages; then a clean-start
// connection on node 1 takes it back as a new session (Session Present 0), which node 2
// discards: a publish to the old subscription reaches nobody.
func TestPersistentSessionResumedElsewhere(t *testing.T) {
	ns := threeNodes(t)
	r1 := newReceived()
	c1, _ := connect5(t, ns[0], &paho.Connect{ClientID: "away", KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, r1, false, nil)
	subscribe(t, c1, "aw/#", 1)
	pub := ns[2].connect(t, "aw-pub", nil)
	awaitRoute(t, pub, "aw/probe", r1)
	if err := c1.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	for k := range 3 {
		publish(t, pub, &paho.Publish{Topic: "aw/m", QoS: 1, Payload: []byte(fmt.Sprint(k))})
	}
	time.Sleep(300 * time.Millisecond) // forwarded to node 1 and queued there

	r2 := newReceived()
	c2, ack := connect5(t, ns[1], &paho.Connect{ClientID: "away", KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, r2, false, nil)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for a persistent session on another node")
	}
	for k := range 3 {
		if p := r2.next(t); string(p.Payload) != fmt.Sprint(k) {
			t.Fatalf("message %d: %q", k, p.Payload)
		}
	}
	noSession(t, ns[0], "away")
	if err := c2.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)

	// Clean start on node 1: node 2's session is discarded, nothing is resumed.
	r3 := newReceived()
	_, ack = connect5(t, ns[0], &paho.Connect{ClientID: "away", KeepAlive: 30, CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, r3, false, nil)
	if ack.SessionPresent {
		t.Fatal("Session Present 1 on a clean start")
	}
	time.Sleep(300 * time.Millisecond)
	noSession(t, ns[1], "away")
	publish(t, pub, &paho.Publish{Topic: "aw/m", QoS: 1, Payload: []byte("nobody")})
	r3.none(t, 500*time.Millisecond)
}

// TestWillsOfStoppingAndDyingNode: clients on node 3 with wills; node 3 stops (SIGTERM),
// then, restarted, dies (SIGKILL): each time a subscriber on node 1 and one on node 2 get
// each will exactly once, and the will of a client that disconnected normally never. A
// stopping node's wills go out at once; a dead node's not while it is only seen down (it may
// be cut off), but when it comes back restarted. Restarted, node 3 finds a persistent session
// that node 1 held since before.
func TestWillsOfStoppingAndDyingNode(t *testing.T) {
	ns := threeNodes(t)
	n3 := ns[2]
	r1, r2 := newReceived(), newReceived()
	s1 := ns[0].connect(t, "will-sub1", r1)
	s2 := ns[1].connect(t, "will-sub2", r2)
	subscribe(t, s1, "will/#", 1)
	subscribe(t, s2, "will/#", 1)
	// A persistent session on node 1 that node 3, restarted below, learns about only from
	// node 1's list of sessions.
	lf, _ := connect5(t, ns[0], &paho.Connect{ClientID: "late-finder", KeepAlive: 30, CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, nil, false, nil)
	subscribe(t, lf, "late/#", 1)
	if err := lf.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}

	for _, kill := range []bool{false, true} {
		name := "term"
		if kill {
			name = "kill"
		}
		awaitRoute(t, n3.connect(t, "will-probe-"+name, nil), "will/probe", r1)
		awaitRoute(t, n3.connect(t, "will-probe2-"+name, nil), "will/probe", r2)
		for _, id := range []string{"w1", "w2", "wclean"} {
			cid := id + "-" + name
			c, _ := connect5(t, n3, &paho.Connect{ClientID: cid, KeepAlive: 30, CleanStart: true,
				WillMessage: &paho.WillMessage{Topic: "will/" + cid, QoS: 1, Payload: []byte("gone " + cid)}}, nil, false, nil)
			if id == "wclean" {
				time.Sleep(100 * time.Millisecond)
				if err := c.Disconnect(&paho.Disconnect{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(500 * time.Millisecond) // the connects (and the clean disconnect) are announced
		if kill {
			// Seen down, node 3 may only be cut off: its wills wait. They go out when it
			// comes back restarted (or when cluster.autoclean forgets it).
			n3.kill9()
			ns[0].waitStatus(t, status(ns[:2], ns[2:]), 10*time.Second)
			ns[1].waitStatus(t, status(ns[:2], ns[2:]), 10*time.Second)
			r1.none(t, time.Second)
			r2.none(t, 10*time.Millisecond)
			n3.start(t)
		} else {
			n3.stop()
		}
		for _, r := range []*received{r1, r2} {
			seen := map[string]int{}
			for range 2 {
				p := r.next(t)
				seen[p.Topic]++
			}
			r.none(t, 1500*time.Millisecond)
			if seen["will/w1-"+name] != 1 || seen["will/w2-"+name] != 1 {
				t.Fatalf("wills after %s: %v", name, seen)
			}
		}
		if !kill {
			n3.start(t)
		}
		for _, n := range ns {
			n.waitStatus(t, status(ns, nil), 15*time.Second)
		}
	}
	time.Sleep(500 * time.Millisecond) // node 3 asked node 1 for its sessions
	_, ack := connect5(t, n3, &paho.Connect{ClientID: "late-finder", KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, nil, false, nil)
	if !ack.SessionPresent {
		t.Fatal("a restarted node did not find a persistent session of another node")
	}
}
