package cluster_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestScaleSimulation checks the scale model (SCALE.md) on five real nodes on loopback: each
// node's clients subscribe to their own distinct filters, the filters propagate, and the test
// reports per node the heap the route table added and the bytes of route announcements sent
// and heard, next to the model's prediction. Long and memory-hungry: only with
// EMQX_SCALE_SIM=1 (`make cluster-scale`); EMQX_SCALE_CLIENTS (default 10) clients per node
// with EMQX_SCALE_FILTERS (default 10000) filters each.
func TestScaleSimulation(t *testing.T) {
	if os.Getenv("EMQX_SCALE_SIM") == "" {
		t.Skip("the scale simulation runs with EMQX_SCALE_SIM=1 (make cluster-scale)")
	}
	clients, filters := envInt("EMQX_SCALE_CLIENTS", 10), envInt("EMQX_SCALE_FILTERS", 10000)
	ns := make([]*node, 5)
	for i := range ns {
		ns[i] = startNode(t, 15+i)
		t.Cleanup(ns[i].stop)
	}
	for _, n := range ns[1:] {
		if out, code := n.ctl(t, "cluster", "join", ns[0].name); code != 0 || !strings.Contains(out, "successfully") {
			t.Fatalf("join: %d %q", code, out)
		}
	}
	byName := slices.Clone(ns) // the status lists names sorted
	slices.SortFunc(byName, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	for _, n := range ns {
		n.waitStatus(t, status(byName, nil), 10*time.Second)
	}
	base := make([]uint64, len(ns))
	for i, n := range ns {
		base[i] = heapAlloc(t, n)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, n := range ns {
		for c := range clients {
			cl := n.connect(t, fmt.Sprintf("sim-%d-%d", i, c), nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < filters; k += 500 {
					var subs []paho.SubscribeOptions
					for j := k; j < min(k+500, filters); j++ {
						subs = append(subs, paho.SubscribeOptions{Topic: fmt.Sprintf("sim/%d/%d/%d/+", i, c, j), QoS: 1})
					}
					if _, err := cl.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: subs}); err != nil {
						t.Errorf("subscribe: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	subscribed := time.Since(start)
	// Propagated when every node has heard the announcements of the four others and the
	// counters stay still.
	var ann, heard, table, fetched []uint64
	for prev := ""; ; {
		time.Sleep(2 * time.Second)
		ann, heard, table, fetched = make([]uint64, len(ns)), make([]uint64, len(ns)), make([]uint64, len(ns)), make([]uint64, len(ns))
		for i, n := range ns {
			m := metricsOf(t, n)
			ann[i], heard[i] = m["cluster.routes.announced.bytes"], m["cluster.routes.heard.bytes"]
			table[i], fetched[i] = m["cluster.routes.table_sent.bytes"], m["cluster.routes.table_fetched.bytes"]
		}
		cur := fmt.Sprint(ann, heard, table, fetched)
		if cur == prev {
			break
		}
		prev = cur
		if time.Since(start) > 5*time.Minute {
			t.Fatal("routes still propagating after 5 minutes")
		}
	}
	propagated := time.Since(start)
	// A message from the first node reaches a client of the last one through the routes.
	r := newReceived()
	last := ns[4].connect(t, "sim-check", r)
	subscribe(t, last, "sim/4/0/0/+", 0)
	pub := ns[0].connect(t, "sim-pub", nil)
	awaitRoute(t, pub, "sim/4/0/0/x", r)

	perNode := clients * filters
	total := perNode * len(ns)
	t.Logf("5 nodes, %d filters per node (%d clients x %d), %d in the cluster; subscribed in %v, propagated in %v",
		perNode, clients, filters, total, subscribed.Round(time.Millisecond), propagated.Round(time.Millisecond))
	for i, n := range ns {
		grown := int64(heapAlloc(t, n)) - int64(base[i])
		t.Logf("%s: heap +%.1f MB (%.0f B per filter held, local and remote: %d); announced %d B (%.1f B per local filter), heard %d B (%.1f B per remote filter); whole tables sent %d B, fetched %d B",
			n.name, float64(grown)/1e6, float64(grown)/float64(total), total, ann[i], float64(ann[i])/float64(perNode),
			heard[i], float64(heard[i])/float64(total-perNode), table[i], fetched[i])
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// metricsOf returns a node's `emqx_ctl metrics`.
func metricsOf(t testing.TB, n *node) map[string]uint64 {
	out, code := n.ctl(t, "metrics")
	if code != 0 {
		t.Fatalf("metrics: %d %s", code, out)
	}
	m := map[string]uint64{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			m[strings.TrimSpace(k)], _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return m
}

// heapAlloc returns the least of a few samples of a node's live heap (`emqx_ctl vm memory`
// heap_alloc): the samples after a collection are the closest to what is live.
func heapAlloc(t testing.TB, n *node) uint64 {
	best := uint64(0)
	for range 6 {
		out, _ := n.ctl(t, "vm", "memory")
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "memory/heap_alloc" {
				x, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				if best == 0 || x < best {
					best = x
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return best
}
