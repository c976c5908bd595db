package main

import (
	"fmt"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// listenersCmd answers `emqx_ctl listeners [stop|start|restart <kind:name>]` in EMQX 4's
// format: one block per listener, named mqtt:<kind>:<name>.
func listenersCmd(n *engine.Node, args []string) (string, int) {
	if len(args) == 0 {
		return listListeners(n.Listeners()), 0
	}
	if len(args) == 3 && args[0] == "stop" {
		return stopByAddress(n, args[1], args[2]) // EMQX 3.2's form (listeners32.go)
	}
	if len(args) != 2 {
		return usage("listeners"), 1
	}
	id := strings.TrimPrefix(args[1], "mqtt:")
	var op func(string) error
	var done string
	switch args[0] {
	case "stop":
		op, done = n.StopListener, "Stop"
	case "start":
		op, done = n.StartListener, "Started"
	case "restart":
		op, done = n.RestartListener, "Restarted"
	default:
		return usage("listeners"), 1
	}
	err := op(id)
	if err != nil {
		return fmt.Sprintf("Failed to %s mqtt:%s listener: %v\n", args[0], id, err), 1
	}
	return fmt.Sprintf("%s mqtt:%s listener successfully.\n", done, id), 0
}

// listListeners prints each listener as EMQX 4's emqx_ctl does, with EMQX 5's proxy_protocol
// and running lines; shutdown_count lists the connections closed by cause ([] when none).
func listListeners(ls []engine.ListenerInfo) string {
	var b strings.Builder
	for _, l := range ls {
		maxConns := "infinity"
		if l.MaxConnections > 0 {
			maxConns = fmt.Sprint(l.MaxConnections)
		}
		var shut []string
		for _, c := range []struct {
			cause string
			n     uint64
		}{{"proxy_protocol", l.RefusedProxyProtocol}, {"listener_stopped", l.RefusedStopped}, {"closed_by_stop", l.ClosedByStop}} {
			if c.n > 0 {
				shut = append(shut, fmt.Sprintf("{%s,%d}", c.cause, c.n))
			}
		}
		fmt.Fprintf(&b, "mqtt:%s\n", l.ID())
		row := func(k string, v any) { fmt.Fprintf(&b, "  %-16s: %v\n", k, v) }
		row("listen_on", l.Addr)
		row("acceptors", l.Acceptors)
		row("proxy_protocol", l.ProxyProtocol)
		row("running", l.Running)
		row("max_conns", maxConns)
		row("current_conn", l.Connections)
		row("shutdown_count", "["+strings.Join(shut, ",")+"]")
	}
	return b.String()
}
