package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestPartitionNetns: three nodes, each in a network namespace of its own on one bridge.
// Node 3's link is cut: both sides see the other down and keep serving their own clients
// (connect, subscribe, publish with PUBACK, delivery between the nodes of a side); messages
// between the sides are not carried, neither then nor after. The link is healed: autoheal
// readmits node 3 everywhere, the route tables agree, messages cross again, and the
// retained messages are the larger side's on every node (node 3's changes during the
// partition are dropped). The will of a client of node 3 that stays connected never fires.
// What the clients saw is logged (t.Log) for the documentation.
func TestPartitionNetns(t *testing.T) {
	lab := newNetLab(t, 3)
	ns := []*node{startNodeIn(t, lab, 1), startNodeIn(t, lab, 2), startNodeIn(t, lab, 3)}
	for _, n := range ns[1:] {
		if out, code := n.ctl(t, "cluster", "join", ns[0].name); code != 0 {
			t.Fatalf("join: %d %q", code, out)
		}
	}
	whole := status(ns, nil)
	for _, n := range ns {
		n.waitStatus(t, whole, 5*time.Second)
	}
	subs := make([]*received, 3)
	pubs := make([]*paho.Client, 3)
	for i, n := range ns {
		subs[i] = newReceived()
		c := n.connectIn(t, lab, fmt.Sprintf("p-sub%d", n.i), subs[i])
		subscribe(t, c, "part/#", 1)
		pubs[i] = n.connectIn(t, lab, fmt.Sprintf("p-pub%d", n.i), nil)
	}
	for i := range ns {
		for j := range ns {
			if i != j {
				awaitRoute(t, pubs[i], "part/probe", subs[j])
			}
		}
	}
	publish(t, pubs[0], &paho.Publish{Topic: "ret/before", QoS: 1, Retain: true, Payload: []byte("v0")})
	publish(t, pubs[0], &paho.Publish{Topic: "ret/gone", QoS: 1, Retain: true, Payload: []byte("x")})
	waitRetained(t, lab, ns, map[string]string{"ret/before": "v0", "ret/gone": "x"})

	// A client of node 3 with a will: it stays connected through the partition, so its will
	// never fires (not on side A when node 3 is seen down, not after the heal).
	willConn, err := dialIn(lab.ns(3), ns[2].mqtt)
	if err != nil {
		t.Fatal(err)
	}
	wc := paho.NewClient(paho.ClientConfig{Conn: willConn})
	if _, err := wc.Connect(ctx5(t), &paho.Connect{ClientID: "p-will3", CleanStart: true, KeepAlive: 60,
		WillMessage: &paho.WillMessage{Topic: "part/will3", QoS: 1, Payload: []byte("will of p-will3")}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wc.Disconnect(&paho.Disconnect{}) })
	time.Sleep(300 * time.Millisecond) // the connect (and its will) is announced

	// A subscriber on node 3 to what node 1 publishes while the cut is not yet detected.
	win := newReceived()
	cw := ns[2].connectIn(t, lab, "p-win3", win)
	subscribe(t, cw, "win/#", 1)
	awaitRoute(t, pubs[0], "win/probe", win)

	cutAt := time.Now()
	lab.cut(t, 3)
	sideA, sideB := status(ns[:2], ns[2:]), status(ns[2:], ns[:2])
	windowSent := 0
	for !strings.Contains(mustCtl(t, ns[0], "cluster", "status"), "stopped_nodes") {
		publish(t, pubs[0], &paho.Publish{Topic: "win/x", QoS: 1, Payload: []byte(fmt.Sprint(windowSent))})
		windowSent++
		time.Sleep(100 * time.Millisecond)
	}
	ns[0].waitStatus(t, sideA, 15*time.Second)
	ns[1].waitStatus(t, sideA, 15*time.Second)
	ns[2].waitStatus(t, sideB, 15*time.Second)
	t.Logf("partition: both sides list the other in stopped_nodes %v after the cut", time.Since(cutAt).Round(100*time.Millisecond))

	// Each side serves its own clients: PUBACK success, delivery within the side.
	for k := range 5 {
		publish(t, pubs[0], &paho.Publish{Topic: "part/a", QoS: 1, Payload: []byte(fmt.Sprint("a", k))})
		publish(t, pubs[2], &paho.Publish{Topic: "part/b", QoS: 1, Payload: []byte(fmt.Sprint("b", k))})
	}
	for k := range 5 {
		for _, r := range subs[:2] {
			if p := r.next(t); string(p.Payload) != fmt.Sprint("a", k) {
				t.Fatalf("side A, message %d: got %q", k, p.Payload)
			}
		}
		if p := subs[2].next(t); string(p.Payload) != fmt.Sprint("b", k) {
			t.Fatalf("side B, message %d: got %q", k, p.Payload)
		}
	}
	newcomer := newReceived()
	c3 := ns[2].connectIn(t, lab, "p-new3", newcomer) // a new client of the cut-off node
	subscribe(t, c3, "part/#", 1)
	publish(t, pubs[0], &paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("A")})
	publish(t, pubs[0], &paho.Publish{Topic: "ret/gone", QoS: 1, Retain: true})
	publish(t, pubs[2], &paho.Publish{Topic: "ret/b", QoS: 1, Retain: true, Payload: []byte("B")})
	publish(t, pubs[2], &paho.Publish{Topic: "ret/before", QoS: 1, Retain: true, Payload: []byte("v3")})
	t.Log("partition: clients on either side connect, subscribe and publish (QoS 1 PUBACK 0x00); each side delivers within itself; nothing crosses")

	healAt := time.Now()
	lab.heal(t, 3)
	for _, n := range ns {
		n.waitStatus(t, whole, 30*time.Second)
	}
	t.Logf("heal: one cluster again on every node %v after the link came back", time.Since(healAt).Round(100*time.Millisecond))
	// What node 1 published before it saw the cut waited on the route, whose TCP connection
	// outlived the partition: it arrives now, late, in order, or not at all.
	late := 0
	for ; late < windowSent; late++ {
		select {
		case p := <-win.ch:
			if string(p.Payload) != fmt.Sprint(late) {
				t.Fatalf("window message %d: got %q", late, p.Payload)
			}
			continue
		case <-time.After(3 * time.Second):
		}
		break
	}
	t.Logf("partition: %d messages published on node 1 (PUBACK 0x00) after the cut and before it was detected; %d reached node 3's subscriber after the heal, the rest not at all", windowSent, late)
	// What was published during the partition never crossed, and does not arrive late.
	for _, r := range append(subs, newcomer) {
		r.none(t, 500*time.Millisecond)
	}
	// Routes: every node lists the same table, and messages cross both ways again.
	for i := range ns {
		for j := range ns {
			if i != j {
				awaitRoute(t, pubs[i], "part/probe", subs[j])
			}
		}
	}
	waitSameRoutes(t, ns)
	// Retained: the larger side's (node 3's changes dropped), the same on every node.
	waitRetained(t, lab, ns, map[string]string{"ret/before": "v0", "ret/a": "A"})
	t.Log("heal: retained messages are side A's everywhere (node 3's ret/b and ret/before = v3 dropped, side A's deletion of ret/gone kept)")
}

func mustCtl(t *testing.T, n *node, args ...string) string {
	t.Helper()
	out, code := n.ctl(t, args...)
	if code != 0 {
		t.Fatalf("emqx_ctl %v on %s: %d %q", args, n.name, code, out)
	}
	return out
}

// waitSameRoutes waits until every node's `routes list` is the same set of lines.
func waitSameRoutes(t *testing.T, ns []*node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var tables []string
		for _, n := range ns {
			out, _ := n.ctl(t, "routes", "list")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			slices.Sort(lines)
			tables = append(tables, strings.Join(lines, "\n"))
		}
		if tables[0] == tables[1] && tables[1] == tables[2] && strings.Contains(tables[0], ns[2].name) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("route tables differ:\n%s", strings.Join(tables, "\n---\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRetained waits until a new subscriber to ret/# on every node gets exactly want
// (topic -> payload).
func waitRetained(t *testing.T, lab *netLab, ns []*node, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for k := 0; ; k++ {
		var bad []string
		for _, n := range ns {
			got := retainedOn(t, lab, n, fmt.Sprintf("p-ret%d-%d", n.i, k))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				bad = append(bad, fmt.Sprintf("%s: %v", n.name, got))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range ns {
				t.Logf("%s's cluster log:\n%s", n.name, n.logLines("cluster: "))
			}
			t.Fatalf("retained messages, want %v on every node:\n%s", want, strings.Join(bad, "\n"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// logLines returns the lines of the node's logs that contain s.
func (n *node) logLines(s string) string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(n.home, "log", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, s) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// retainedOn subscribes to ret/# on n and collects the retained messages it is sent.
func retainedOn(t *testing.T, lab *netLab, n *node, clientID string) map[string]string {
	t.Helper()
	r := newReceived()
	c := n.connectIn(t, lab, clientID, r)
	subscribe(t, c, "ret/#", 1)
	got := map[string]string{}
	end := time.After(300 * time.Millisecond)
	for {
		select {
		case p := <-r.ch:
			got[p.Topic] = string(p.Payload)
		case <-end:
			c.Disconnect(&paho.Disconnect{})
			return got
		}
	}
}
