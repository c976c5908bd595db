package cluster_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestNodeFailureRestartLeave: nodes 4, 5 and 6. QoS 1 traffic from 4 to 5 loses nothing
// while 6 is killed with SIGKILL; 6 is seen down, forgotten by node 4 after its autoclean
// (then, not before, the will of a client of node 6 is published, once),
// comes back by itself when restarted (the known nodes are kept on disk), is removed with
// force-leave, and 5 leaves.
func TestNodeFailureRestartLeave(t *testing.T) {
	n4 := startNode(t, 4, "EMQX_CLUSTER__AUTOCLEAN=3s")
	n5 := startNode(t, 5)
	n6 := startNode(t, 6)
	for _, n := range []*node{n5, n6} {
		if out, code := n.ctl(t, "cluster", "join", n4.name); code != 0 {
			t.Fatalf("join: %d %q", code, out)
		}
	}
	three := status([]*node{n4, n5, n6}, nil)
	n4.waitStatus(t, three, 5*time.Second)

	r := newReceived()
	sub := n5.connect(t, "f-sub", r)
	subscribe(t, sub, "f/#", 1)
	// A client of node 6 with a will: node 6 dies, and its will is published once, by node 4
	// (the first running node by name) when its autoclean (3s) forgets node 6, not before.
	wr := newReceived()
	ws := n5.connect(t, "f-will-sub", wr)
	subscribe(t, ws, "fwill/#", 1)
	awaitRoute(t, n6.connect(t, "f-will-probe", nil), "fwill/probe", wr)
	connect5(t, n6, &paho.Connect{ClientID: "f-will", KeepAlive: 60, CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "fwill/6", QoS: 1, Payload: []byte("node 6 died")}}, nil, false, nil)
	time.Sleep(300 * time.Millisecond) // the connect (and its will) is announced
	pub := n4.connect(t, "f-pub", nil)
	awaitRoute(t, pub, "f/probe", r)
	const total = 300
	sent := make(chan error, 1)
	go func() {
		for k := range total {
			if _, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "f/m", QoS: 1, Payload: []byte(fmt.Sprint(k))}); err != nil {
				sent <- err
				return
			}
			if k == total/3 {
				n6.kill9()
			}
		}
		sent <- nil
	}()
	for k := range total {
		p := r.next(t)
		if string(p.Payload) != fmt.Sprint(k) {
			t.Fatalf("message %d: got %q", k, p.Payload)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	n5.waitStatus(t, status([]*node{n4, n5}, []*node{n6}), 10*time.Second)
	downAt := time.Now()
	n4.waitStatus(t, status([]*node{n4, n5}, nil), 15*time.Second) // autoclean 3s
	select {
	case p := <-wr.ch:
		if string(p.Payload) != "node 6 died" {
			t.Fatalf("will subscriber: %q", p.Payload)
		}
		if d := time.Since(downAt); d < 2*time.Second {
			t.Fatalf("the will of a node seen down came %v after, before its autoclean", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the will of a node forgotten by autoclean was not published")
	}
	wr.none(t, time.Second)

	// Restarted, node 6 dials the nodes it knew and is back everywhere.
	n6.start(t)
	n4.waitStatus(t, three, 10*time.Second)
	n5.waitStatus(t, three, 10*time.Second)
	n6.waitStatus(t, three, 10*time.Second)

	out, code := n5.ctl(t, "cluster", "force-leave", n6.name)
	if want := "Remove the node from cluster successfully.\n" + status([]*node{n4, n5}, nil); code != 0 || out != want {
		t.Fatalf("force-leave: %d %q, want %q", code, out, want)
	}
	n4.waitStatus(t, status([]*node{n4, n5}, nil), 5*time.Second)
	n6.waitStatus(t, status([]*node{n6}, nil), 10*time.Second)
	if out, code := n5.ctl(t, "cluster", "force-leave", n6.name); code == 0 || out != "Failed to remove the node from cluster: node_not_in_cluster\n" {
		t.Fatalf("force-leave again: %d %q", code, out)
	}

	out, code = n5.ctl(t, "cluster", "leave")
	if want := "Leave the cluster successfully.\n" + status([]*node{n5}, nil); code != 0 || out != want {
		t.Fatalf("leave: %d %q, want %q", code, out, want)
	}
	n4.waitStatus(t, status([]*node{n4}, nil), 5*time.Second)
	if out, code := n5.ctl(t, "cluster", "leave"); code == 0 || out != "Failed to leave the cluster: node_not_in_cluster\n" {
		t.Fatalf("leave again: %d %q", code, out)
	}
	// Messages no longer cross: node 4's publish does not reach node 5.
	r5 := newReceived()
	c5 := n5.connect(t, "after-leave", r5)
	subscribe(t, c5, "after/#", 1)
	time.Sleep(500 * time.Millisecond)
	pub4 := n4.connect(t, "after-pub", nil)
	publish(t, pub4, &paho.Publish{Topic: "after/x", QoS: 1, Payload: []byte("x")})
	r5.none(t, 500*time.Millisecond)

	// And a node that left can join again.
	if out, code := n5.ctl(t, "cluster", "join", n4.name); code != 0 {
		t.Fatalf("join after leave: %d %q", code, out)
	}
	n4.waitStatus(t, status([]*node{n4, n5}, nil), 5*time.Second)
}

// TestAutoheal: node 9 is cut off (SIGSTOP: its heartbeats stop, its routes stay open) and
// comes back without restarting (SIGCONT). Node 7 (autoheal on) takes it back by itself and
// forwards to it again; node 8 (autoheal off) keeps it out until `cluster join` names it.
func TestAutoheal(t *testing.T) {
	n7 := startNode(t, 7)
	n8 := startNode(t, 8, "EMQX_CLUSTER__AUTOHEAL=off")
	n9 := startNode(t, 9)
	for _, n := range []*node{n8, n9} {
		if out, code := n.ctl(t, "cluster", "join", n7.name); code != 0 {
			t.Fatalf("join: %d %q", code, out)
		}
	}
	all := status([]*node{n7, n8, n9}, nil)
	n7.waitStatus(t, all, 5*time.Second)
	n8.waitStatus(t, all, 5*time.Second)
	r9 := newReceived()
	c9 := n9.connect(t, "heal-sub", r9)
	subscribe(t, c9, "heal/#", 1)
	pub7 := n7.connect(t, "heal-pub", nil)
	awaitRoute(t, pub7, "heal/probe", r9)

	if err := n9.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cut := status([]*node{n7, n8}, []*node{n9})
	n7.waitStatus(t, cut, 10*time.Second)
	n8.waitStatus(t, cut, 10*time.Second)
	if err := n9.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	n7.waitStatus(t, all, 10*time.Second)
	time.Sleep(2 * time.Second) // several heartbeats: node 8 still keeps it out
	n8.waitStatus(t, cut, time.Second)
	awaitRoute(t, pub7, "heal/probe", r9) // node 7 forwards to node 9 again

	out, code := n8.ctl(t, "cluster", "join", n9.name)
	if want := "Join the cluster successfully.\n" + all; code != 0 || out != want {
		t.Fatalf("join to readmit: %d %q, want %q", code, out, want)
	}
}
