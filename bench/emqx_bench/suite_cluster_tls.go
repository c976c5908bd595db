package main

import (
	"context"
	"net"
	"os"
	"path/filepath"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// clusterTLSCases are the cluster p2p rows with the routes between the two nodes over
// mutual TLS (cluster.ssl = on), to read next to cluster-p2p-q0/q1 of the same run: the cost
// of encrypting the hop between nodes.
func clusterTLSCases() []suiteCase {
	m := []string{"recv_rate", "broker_us", "node2_us", "p99", "loss"}
	return []suiteCase{
		{Name: "cluster-tls-p2p-q0", Title: "cluster p2p 8→8 across two nodes over TLS routes, QoS 0, 64 B", Scenario: "p2p", Metrics: m, Cluster: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 8, 0; o.Settle = clusterSettle }, run: runClusterTLS},
		{Name: "cluster-tls-p2p-q1", Title: "cluster p2p 8→8 across two nodes over TLS routes, QoS 1, 64 B", Scenario: "p2p", Metrics: m, Cluster: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS = 8, 8, 1, 1; o.Settle = clusterSettle }, run: runClusterTLS},
	}
}

// runClusterTLS is runCluster with TLS between the nodes: one node certificate (both
// 127.0.0.1 and 127.0.0.2 in its names, server and client use) and its CA, written to work.
func runClusterTLS(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error) {
	dir, err := os.MkdirTemp(work, "cluster-tls-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ca, err := certgen.NewCA("bench cluster CA")
	if err != nil {
		return nil, err
	}
	node, err := ca.Issue(certgen.Options{CommonName: "bench node", Peer: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)}})
	if err != nil {
		return nil, err
	}
	cert, key, cacert := filepath.Join(dir, "node-cert.pem"), filepath.Join(dir, "node-key.pem"), filepath.Join(dir, "ca.pem")
	if err := node.Write(cert, key); err != nil {
		return nil, err
	}
	if err := ca.Write(cacert, filepath.Join(dir, "ca-key.pem")); err != nil {
		return nil, err
	}
	k.Env = append(append([]string(nil), k.Env...), "EMQX_CLUSTER__SSL=on",
		"EMQX_CLUSTER__SSL__CERTFILE="+cert, "EMQX_CLUSTER__SSL__KEYFILE="+key, "EMQX_CLUSTER__SSL__CACERTFILE="+cacert)
	return runCluster(ctx, k, o, work, certs)
}
