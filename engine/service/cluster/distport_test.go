package cluster_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestBusyDistPort: node 11 publishes to a subscriber on node 12 while node 12 is stopped
// (SIGSTOP), so that node 11's route to it cannot write; the route's pending output grows
// past 1 MiB and node 11 raises busy_dist_port, published on $SYS/.../sysmon/busy_dist_port
// naming node 12.
func TestBusyDistPort(t *testing.T) {
	a, b := startNode(t, 11), startNode(t, 12)
	if out, code := b.ctl(t, "cluster", "join", a.name); code != 0 {
		t.Fatalf("join: %d %q", code, out)
	}
	a.waitStatus(t, status([]*node{a, b}, nil), 10*time.Second)

	rb := newReceived()
	sub := b.connect(t, "dist-sub", rb)
	subscribe(t, sub, "dist/#", 0)
	pub := a.connect(t, "dist-pub", nil)
	awaitRoute(t, pub, "dist/probe", rb)
	rw := newReceived()
	w := a.connect(t, "dist-watch", rw)
	subscribe(t, w, "$SYS/brokers/+/sysmon/busy_dist_port", 0)

	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Signal(syscall.SIGCONT) })
	payload := make([]byte, 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for range 16 {
			publish(t, pub, &paho.Publish{Topic: "dist/x", QoS: 0, Payload: payload})
		}
		select {
		case p := <-rw.ch:
			got := string(p.Payload)
			if p.Topic != "$SYS/brokers/"+a.name+"/sysmon/busy_dist_port" ||
				!strings.HasPrefix(got, "busy_dist_port warning: node = "+b.name+", peer = 127.0.0.1") ||
				!strings.Contains(got, "limit = 1048576 bytes") {
				t.Fatalf("%s: %q", p.Topic, got)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("busy_dist_port not published within 20s of publishing to a stopped peer")
		}
	}
}
