package main

import (
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/cluster"
)

// listenRPC starts the node's RPC listener, where RPC bridges of other clusters
// (bridge.mqtt.<name>.address = this node's name) deliver: on rpc.tcp_server_port, on the
// host of cluster.listen (all addresses when it names none). Only a clustered node (one with
// cluster.listen) listens; with cluster.ssl on, only over TLS. The returned function closes
// it.
func listenRPC(n *engine.Node, cfg *config.Config, log *slog.Logger) (func(), error) {
	host := "0.0.0.0"
	if h, _, err := net.SplitHostPort(cfg.Cluster.Listen); err == nil && strings.Contains(cfg.Cluster.Listen, ":") {
		host = h
	}
	addr := net.JoinHostPort(host, strconv.Itoa(cfg.Cluster.RPCServerPort))
	tlsCfg, err := clusterTLS(&cfg.Cluster, slog.New(slog.DiscardHandler)) // notes: logged by the cluster's set-up
	if err != nil {
		return nil, err
	}
	srv, err := cluster.ListenRPC(n, cluster.RPCOptions{Listen: addr, Cookie: cfg.Node.Cookie, NodeName: cfg.Node.Name, Log: log,
		TLS: tlsCfg, TLSTimeout: cfg.Cluster.SSL.HandshakeTimeout})
	if err != nil {
		return nil, err
	}
	log.Info("RPC bridge listener started", "address", addr, "tls", tlsCfg != nil)
	return srv.Close, nil
}
