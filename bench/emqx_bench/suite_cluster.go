package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cluster cases: the p2p rows with the publishers on node 1 and the subscribers on node 2
// of a two-node cluster of ours (both on this machine, joined with `emqx_ctl cluster
// join`), to read next to the single-node p2p rows of the same run. broker_us is node 1's
// CPU per message (receive, route, forward), node2_us node 2's (receive from node 1, route,
// deliver).

func clusterCases() []suiteCase {
	m := []string{"recv_rate", "broker_us", "node2_us", "p99", "loss"}
	settle := func(o *Options) { o.Settle = clusterSettle }
	return append([]suiteCase{
		{Name: "cluster-p2p-q0", Title: "cluster p2p 8→8 across two nodes, QoS 0, 64 B", Scenario: "p2p", Metrics: m, Cluster: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 8, 0; settle(o) }},
		{Name: "cluster-p2p-q1", Title: "cluster p2p 8→8 across two nodes, QoS 1, 64 B", Scenario: "p2p", Metrics: m, Cluster: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS = 8, 8, 1, 1; settle(o) }},
	}, clusterTLSCases()...)
}

// clusterSettle lets the subscriptions reach node 1 before the publishers start.
const clusterSettle = time.Second

// runCluster starts two fresh nodes of ours (bench1@127.0.0.1, bench2@127.0.0.2, route
// listeners on one port of each address), joins them, runs o with the publishers on node 1
// and the subscribers on node 2, and stops both.
func runCluster(ctx context.Context, k brokerKind, o Options, work string, _ *benchCerts) (*Result, error) {
	port, err := routePort()
	if err != nil {
		return nil, err
	}
	nodes := make([]*brokerProc, 2)
	prof, err := newNodeProfiles(len(nodes))
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		store, err := os.MkdirTemp(work, "store-") // each node its own (the default is under the home)
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(store)
		api, err := freePort() // two nodes cannot share the API's default port
		if err != nil {
			return nil, err
		}
		ki := k
		ki.Env = append(append([]string(nil), k.Env...),
			"EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(api),
			fmt.Sprintf("EMQX_NODE__NAME=bench%d@127.0.0.%d", i+1, i+1),
			fmt.Sprintf("EMQX_CLUSTER__LISTEN=127.0.0.%d:%d", i+1, port),
			"EMQX_PERSISTENCE__DIR="+store)
		ki.Env = append(ki.Env, prof.env(i)...)
		b, err := startBroker(ctx, ki, work, nil)
		if err != nil { // a port taken between its choice and the start: once more
			b, err = startBroker(ctx, ki, work, nil)
		}
		if err != nil {
			return nil, err
		}
		defer b.stop()
		nodes[i] = b
	}
	ctl := exec.CommandContext(ctx, filepath.Join(filepath.Dir(k.Bin), "emqx_ctl"), "cluster", "join", "bench1@127.0.0.1")
	ctl.Env = append(os.Environ(), "EMQX_NODE__DATA_DIR="+filepath.Join(nodes[1].dir, "data"))
	deadline := time.Now().Add(15 * time.Second)
	for { // the control socket opens a moment after the MQTT listener
		out, err := ctl.CombinedOutput()
		if err == nil && strings.Contains(string(out), "successfully") {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster join: %v: %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
		ctl = exec.CommandContext(ctx, ctl.Path, ctl.Args[1:]...)
		ctl.Env = append(os.Environ(), "EMQX_NODE__DATA_DIR="+filepath.Join(nodes[1].dir, "data"))
	}
	o.Broker, o.SubBroker = nodes[0].addr, nodes[1].addr
	o.BrokerPID, o.MetricsCmd = nodes[0].pid(), nodes[0].metricsCmd
	if err := o.validate(); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond)
	before := readProc(nodes[1].pid())
	prof.start(fmt.Sprintf("p2p-q%d", o.QoS), o.Settle+o.Duration)
	res, err := newRunner(o, nil).run(ctx)
	if err != nil {
		return nil, err
	}
	if err := prof.wait(); err != nil {
		return nil, err
	}
	after := readProc(nodes[1].pid())
	if n := max(res.Sent, res.Received); n > 0 && before.ok && after.ok {
		res.Node2CPUPerMs = (after.CPU - before.CPU).Seconds() * 1e6 / float64(n)
	}
	res.Broker = k.Name
	return res, nil
}

// routePort finds a port free on both 127.0.0.1 and 127.0.0.2.
func routePort() (int, error) {
	for range 50 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(p))); err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no port free on both 127.0.0.1 and 127.0.0.2")
}
