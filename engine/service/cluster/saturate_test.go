package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestSaturatedQoS1LosesNothing: publishers on node 13 send QoS 1 messages to a subscriber
// on node 14 as fast as their acknowledgements allow, and node 14 is frozen (SIGSTOP) for a
// second meanwhile, so that the frames node 13 forwards fill the flow window (flow.go) and the
// forwarder waits, its deliveries held by the peer subscriber's queue. Every message arrives,
// once and in its publisher's order; node 14's session queue is unbounded here
// (max_mqueue_len = 0, and force_shutdown_policy far away) so that only the way between the
// nodes could lose one.
func TestSaturatedQoS1LosesNothing(t *testing.T) {
	n13 := startNode(t, 13)
	n14 := startNode(t, 14, "EMQX_ZONE__EXTERNAL__MAX_MQUEUE_LEN=0", "EMQX_ZONE__EXTERNAL__FORCE_SHUTDOWN_POLICY=1000000|800MB")
	t.Cleanup(n13.stop)
	t.Cleanup(n14.stop)
	if out, code := n14.ctl(t, "cluster", "join", n13.name); code != 0 || !strings.Contains(out, "successfully") {
		t.Fatalf("join: %d %q", code, out)
	}
	r := &received{ch: make(chan *paho.Publish, 100000)}
	sub := n14.connect(t, "sat-sub", r)
	subscribe(t, sub, "sat/#", 1)
	probe := n13.connect(t, "sat-probe", nil)
	awaitRoute(t, probe, "sat/probe", r)

	const pubs, each = 4, 6000
	payload := strings.Repeat("x", 1000) // 8 MB of frames is a few thousand messages
	var wg sync.WaitGroup
	errs := make(chan error, pubs)
	for p := range pubs {
		c := n13.connect(t, fmt.Sprintf("sat-pub-%d", p), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 32 publishes in flight per publisher: each goroutine its own sequence range,
			// in order within it.
			var inner sync.WaitGroup
			for g := range 32 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for k := g; k < each; k += 32 {
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						_, err := c.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("sat/%d/%d", p, g), QoS: 1, Payload: []byte(strconv.Itoa(k) + payload)})
						cancel()
						if err != nil {
							errs <- fmt.Errorf("publisher %d: %w", p, err)
							return
						}
					}
				}()
			}
			inner.Wait()
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if os.Getenv("SAT_NOSTOP") == "" {
		n14.cmd.Process.Signal(syscall.SIGSTOP)
	}
	time.Sleep(time.Second) // under three heartbeats: node 13 must not think node 14 is down
	n14.cmd.Process.Signal(syscall.SIGCONT)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	next := map[string]int{}
	deadline := time.After(60 * time.Second)
	got := 0
	for got < pubs*each {
		select {
		case m := <-r.ch:
			if string(m.Payload) == "probe" {
				continue
			}
			k, _ := strconv.Atoi(strings.TrimRight(string(m.Payload), "x"))
			want, ok := next[m.Topic]
			if !ok {
				var p, g int
				fmt.Sscanf(m.Topic, "sat/%d/%d", &p, &g)
				want = g
			}
			if k != want {
				t.Fatalf("%s: message %d, want %d (lost or out of order)", m.Topic, k, want)
			}
			next[m.Topic] = k + 32
			got++
		case <-deadline:
			m13, _ := n13.ctl(t, "metrics")
			m14, _ := n14.ctl(t, "metrics")
			t.Fatalf("received %d of %d messages within 60s; node 13's log:\n%s\nnode 13: %s\nnode 14: %s", got, pubs*each, clusterLog(n13), m13, m14)
		}
	}
	r.none(t, 300*time.Millisecond)
}

// clusterLog returns the cluster lines of a node's log.
func clusterLog(n *node) string {
	b, _ := os.ReadFile(filepath.Join(n.home, "log", "emqx.log"))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "cluster") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
