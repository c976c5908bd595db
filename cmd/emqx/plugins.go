package main

import (
	"log/slog"
	"os"

	"github.com/emqgo/emqgo/cmd/internal/plugins"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/bridge"
)

// startPlugins loads the plugins data/loaded_plugins and EMQX_LOADED_PLUGINS name, and
// emqx_dashboard unless the file marks it false, before the listeners open, so that the
// first client already meets their authentication.
func startPlugins(n *engine.Node, cfg *config.Config, log *slog.Logger, dash *plugins.DashboardEnv) (*plugins.Manager, error) {
	// RPC bridges use cluster.ssl.* (its notes are logged by the cluster's set-up).
	rpcTLS, err := clusterTLS(&cfg.Cluster, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	m := plugins.New(n, plugins.Env{
		Home:      cfg.Node.Home,
		EtcDir:    cfg.Plugins.EtcDir,
		DataDir:   cfg.Node.DataDir,
		Environ:   os.Environ(),
		Defaults:  []string{plugins.DashboardPlugin},
		Dashboard: dash,
		Node:      n,
		NodeName:  n.Name(),
		Cookie:    cfg.Node.Cookie,
		RPCPort:   cfg.Cluster.RPCClientPort,
		RPCTLS:    rpcTLS,
	}, cfg.Plugins.LoadedFile, log)
	if err := m.Start(os.Getenv(plugins.LoadedPluginsEnv)); err != nil {
		return nil, err
	}
	return m, nil
}

// registerPluginCommands installs `plugins`, `users`, `clientid` and `bridges`.
func registerPluginCommands(s *ctl.Server, m *plugins.Manager) {
	for name, h := range m.Commands() {
		s.Register(name, h, ctl.Usage[name]...)
	}
}

// stopBridges disconnects the bridges of emqx_bridge_mqtt, if loaded (their queues keep what
// is unsent); the plugin manager's Close later finds them closed.
func stopBridges(m *plugins.Manager) {
	if inst := m.Instance(bridge.Name); inst != nil && inst.Bridges != nil {
		inst.Bridges.Close()
	}
}
