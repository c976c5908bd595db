package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestSteadyClusterNoRefetch: in a steady cluster, route announcements alone keep every
// node's copy of the others' routes current: while a client on each node subscribes and
// unsubscribes filters for several heartbeats, with a publisher streaming to them, no node
// fetches another's whole route table (cluster.routes.refetch stays where it was), the
// announcements were heard, and a last subscription on each node is routed from the others.
func TestSteadyClusterNoRefetch(t *testing.T) {
	ns := threeNodes(t)
	before := make([]map[string]uint64, len(ns))
	for i, n := range ns {
		before[i] = metricsOf(t, n)
		if _, ok := before[i]["cluster.routes.refetch"]; !ok {
			t.Fatalf("%s: no cluster.routes.refetch metric", n.name)
		}
	}
	pub := ns[0].connect(t, "churn-pub", nil)
	stop := make(chan struct{})
	var pubDone, wg sync.WaitGroup
	pubDone.Add(1)
	go func() { // load: QoS 1 messages to whatever churn filter exists
		defer pubDone.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			pub.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("churn/%d/%d", k%3, k%50), QoS: 1, Payload: []byte("x")})
			cancel()
		}
	}()
	const rounds = 150
	for i, n := range ns {
		c := n.connect(t, fmt.Sprintf("churn-sub%d", i), newReceived())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				f := fmt.Sprintf("churn/%d/%d", i, k%50)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: f, QoS: 1}}})
				if err == nil {
					_, err = c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{f}})
				}
				cancel()
				if err != nil {
					t.Errorf("%s: churn %d: %v", n.name, k, err)
					return
				}
				time.Sleep(30 * time.Millisecond) // 150 rounds: about 5 heartbeats
			}
		}()
	}
	wg.Wait()
	close(stop)
	pubDone.Wait()
	for i, n := range ns { // the last word: a subscription on each node, routed from the next one
		r := newReceived()
		c := n.connect(t, fmt.Sprintf("churn-last%d", i), r)
		subscribe(t, c, fmt.Sprintf("churn-last/%d", i), 1)
		awaitRoute(t, ns[(i+1)%len(ns)].connect(t, fmt.Sprintf("churn-probe%d", i), nil), fmt.Sprintf("churn-last/%d", i), r)
	}
	for i, n := range ns {
		after := metricsOf(t, n)
		if d := after["cluster.routes.refetch"] - before[i]["cluster.routes.refetch"]; d != 0 {
			t.Errorf("%s fetched a whole route table %d times in a steady cluster:\n%s", n.name, d, clusterLog(n))
		}
		if after["cluster.routes.heard.bytes"] <= before[i]["cluster.routes.heard.bytes"] {
			t.Errorf("%s heard no route announcement during the churn", n.name)
		}
	}
}
