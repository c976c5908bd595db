package plugins

import (
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine/service/bridge"
)

// rpcBridge turns a bridge whose address is a node name (name@host, or name@host:port) into
// an RPC bridge: forward-only, to that node's RPC listener on rpc.tcp_client_port (or the
// name's port), logging in with node.cookie. As the guide says, RPC bridges do not subscribe:
// subscription.N.* keys are ignored, with a warning. The MQTT client keys (proto_ver,
// client_id, username, password, keepalive, retry_interval, bridge_mode) do not apply. With
// cluster.ssl = on the link runs over TLS with cluster.ssl.* (as the remote's listener
// requires when its own cluster.ssl is on).
func rpcBridge(c *Conf, p string, ssl bool, e *Env, cfg *bridge.Config) {
	node := cfg.Address
	addr, ok := bridge.RPCAddress(node, e.RPCPort)
	if !ok || e.RPCPort == 0 && !strings.Contains(strings.SplitN(node, "@", 2)[1], ":") {
		c.Fail(p+"address", "expected name@host (or name@host:port) of a node for an RPC bridge, got "+strconv.Quote(node))
		return
	}
	if ssl {
		c.Fail(p+"ssl", "RPC bridges (address = name@host) take their TLS from cluster.ssl.* (on when cluster.ssl = on); set ssl = off here")
	}
	if len(cfg.Subscriptions) > 0 {
		if e.Log != nil {
			e.Log.Warn("bridge.mqtt."+cfg.Name+".subscription.* ignored: an RPC bridge only forwards (address "+node+")", "plugin", bridge.Name)
		}
		cfg.Subscriptions = nil
	}
	cfg.Address = addr
	cfg.RPC = &bridge.RPC{Node: node, Cookie: e.Cookie, From: e.NodeName, TLS: e.RPCTLS}
}
