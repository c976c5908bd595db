package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestWillsAfterAutocleanNetns: the rule for the wills of a partition's smaller side that
// outlasts cluster.autoclean (wills.go). Three nodes, autoclean 6 s; a client of node 3 with
// a will stays connected while node 3's link is cut. When node 1 forgets node 3, the first
// running node publishes that will: node 1's subscriber gets it once, node 3's (cut off)
// not. After the link is healed the sides stay apart (each forgot the other's nodes; only
// `cluster join` or a restart reunites them), so when the client's connection then ends
// abnormally node 3 publishes the will again to its own side only: each subscriber got the
// will once.
func TestWillsAfterAutocleanNetns(t *testing.T) {
	lab := newNetLab(t, 3)
	env := "EMQX_CLUSTER__AUTOCLEAN=6s"
	ns := []*node{startNodeIn(t, lab, 1, env), startNodeIn(t, lab, 2, env), startNodeIn(t, lab, 3, env)}
	for _, n := range ns[1:] {
		if out, code := n.ctl(t, "cluster", "join", ns[0].name); code != 0 {
			t.Fatalf("join: %d %q", code, out)
		}
	}
	for _, n := range ns {
		n.waitStatus(t, status(ns, nil), 5*time.Second)
	}
	sub1, sub3 := newReceived(), newReceived()
	subscribe(t, ns[0].connectIn(t, lab, "aw-sub1", sub1), "aw/#", 1)
	subscribe(t, ns[2].connectIn(t, lab, "aw-sub3", sub3), "aw/#", 1)
	pub2 := ns[1].connectIn(t, lab, "aw-pub2", nil)
	awaitRoute(t, pub2, "aw/probe", sub1)
	awaitRoute(t, pub2, "aw/probe", sub3)
	willConn, err := dialIn(lab.ns(3), ns[2].mqtt)
	if err != nil {
		t.Fatal(err)
	}
	wc := paho.NewClient(paho.ClientConfig{Conn: willConn})
	if _, err := wc.Connect(ctx5(t), &paho.Connect{ClientID: "aw-will3", CleanStart: true, KeepAlive: 600,
		WillMessage: &paho.WillMessage{Topic: "aw/will3", QoS: 1, Payload: []byte("will")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the connect (and its will) is announced

	lab.cut(t, 3)
	ns[0].waitStatus(t, status(ns[:2], nil), 30*time.Second) // down, then forgotten
	if p := sub1.next(t); p.Topic != "aw/will3" || string(p.Payload) != "will" {
		t.Fatalf("node 1's subscriber got %q on %q, want the will", p.Payload, p.Topic)
	}
	t.Log("autoclean: node 3 forgotten on side A; its connected client's will published there once")
	lab.heal(t, 3)
	time.Sleep(5 * time.Second) // five heartbeats: they cross again, and are ignored
	ns[0].waitStatus(t, status(ns[:2], nil), time.Second)
	ns[2].waitStatus(t, status(ns[2:], nil), 10*time.Second)
	sub1.none(t, 500*time.Millisecond)
	sub3.none(t, 500*time.Millisecond)

	willConn.Close() // the client's connection ends abnormally: node 3 publishes its will
	if p := sub3.next(t); p.Topic != "aw/will3" || string(p.Payload) != "will" {
		t.Fatalf("node 3's subscriber got %q on %q, want the will", p.Payload, p.Topic)
	}
	sub1.none(t, 2*time.Second)
	sub3.none(t, 500*time.Millisecond)
	if out := ns[0].logLines("published the wills of a stopped node"); !strings.Contains(out, "wills=1") {
		t.Fatalf("node 1's log: %q", out)
	}
	t.Logf("heal after autoclean: the sides stay apart (%s on node 1); the abnormal end of the client's connection publishes its will on node 3's side only: each subscriber got it once", strings.TrimSpace(mustCtl(t, ns[0], "cluster", "status")))
}
