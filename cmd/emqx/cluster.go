package main

import (
	"fmt"
	"log/slog"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/cluster"
	"github.com/emqgo/emqgo/engine/service/sys"
)

// newCluster prepares the cluster service from cluster.* and node.* keys, before the node
// starts (it watches the node's routes from the first subscription). nil when cluster.listen
// is unset: the node does not cluster.
func newCluster(n *engine.Node, cfg *config.Config, log *slog.Logger) (*cluster.Service, error) {
	c := &cfg.Cluster
	switch c.Discovery {
	case "manual", "static", "dns", "":
	default:
		return nil, fmt.Errorf("configuration error: cluster.discovery = %s is not supported yet (manual, static or dns)", c.Discovery)
	}
	if c.Listen == "" {
		if c.Discovery == "static" || c.Discovery == "dns" {
			return nil, fmt.Errorf("configuration error: cluster.discovery = %s needs cluster.listen (the route listener)", c.Discovery)
		}
		return nil, nil
	}
	tlsCfg, err := clusterTLS(c, log)
	if err != nil {
		return nil, err
	}
	return cluster.New(n, cluster.Options{
		NodeName:    cfg.Node.Name,
		ClusterName: c.Name,
		Listen:      c.Listen,
		Cookie:      cfg.Node.Cookie,
		Discovery:   c.Discovery,
		Seeds:       c.StaticSeeds,
		Autoheal:    c.Autoheal,
		Autoclean:   c.Autoclean,
		DataDir:     cfg.Node.DataDir,
		Log:         log,
		TLS:         tlsCfg,
		TLSTimeout:  c.SSL.HandshakeTimeout,
		DNS:         cluster.DNSOptions{Name: c.DNS.Name, App: c.DNS.App, Server: c.DNS.Server, Refresh: c.DNS.Refresh},
	})
}

// startCluster starts the service on a started node and takes over `emqx_ctl cluster`.
func startCluster(s *ctl.Server, n *engine.Node, svc *cluster.Service, log *slog.Logger) error {
	if err := svc.Start(); err != nil {
		return err
	}
	s.Register("cluster", svc.Command, cluster.Usage...)
	for _, name := range []string{"routes", "topics"} {
		s.Register(name, func(args []string) (string, int) {
			return clusterRoutesCommand(n, svc.Routes, name, args)
		}, ctl.Usage[name]...)
	}
	log.Info("cluster routes listening")
	return nil
}

// clusterNodes is the running nodes for $SYS/brokers and the HTTP API; nil without a cluster
// (this node alone).
func clusterNodes(svc *cluster.Service) func() []string {
	if svc == nil {
		return nil
	}
	return svc.RunningNodes
}

// clusterDistPorts hands the cluster's routes to peer nodes to the $SYS service's
// busy_dist_port monitor when sysmon.busy_dist_port is on; nil without a cluster or with the
// monitor off.
func clusterDistPorts(cfg *config.Config, svc *cluster.Service) func() []sys.DistPort {
	if svc == nil || !cfg.Monitor.BusyDistPort {
		return nil
	}
	return func() []sys.DistPort {
		routes := svc.DistPorts()
		out := make([]sys.DistPort, len(routes))
		for i, r := range routes {
			out[i] = sys.DistPort{Node: r.Node, ID: r.ID, Addr: r.Addr, Pending: r.Pending, Since: r.Since}
		}
		return out
	}
}
