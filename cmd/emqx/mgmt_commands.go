package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/ctl"
)

// The management commands of emqx_ctl (clients, sessions, subscriptions, routes, topics, vm,
// mnesia, log, cluster) with EMQX 3.2's output, over engine.Node's management API.

// ctlTimeout bounds one command's wait for the event loops.
const ctlTimeout = 10 * time.Second

func registerManagement(s *ctl.Server, n *engine.Node, levels *logLevels) {
	reg := func(name string, run ctl.Handler) { s.Register(name, run, ctl.Usage[name]...) }
	reg("clients", func(args []string) (string, int) { return clientsCommand(n, args) })
	reg("sessions", func(args []string) (string, int) { return sessionsCommand(n, args) })
	reg("subscriptions", func(args []string) (string, int) { return subscriptionsCommand(n, args) })
	reg("routes", func(args []string) (string, int) { return routesCommand(n, "routes", args) })
	reg("topics", func(args []string) (string, int) { return routesCommand(n, "topics", args) })
	reg("vm", func(args []string) (string, int) { return vmCommand(n, args) })
	reg("log", func(args []string) (string, int) { return logCommand(levels, args) })
	reg("mnesia", func(args []string) (string, int) {
		if len(args) > 0 {
			return usage("mnesia"), 1
		}
		return "There is no Mnesia database in emqgo: retained messages and persistent sessions are in the durable store (persistence.*); check it with `emqx_ctl data verify`.\n", 0
	})
	reg("cluster", func(args []string) (string, int) { // replaced by the cluster service when cluster.listen is set
		switch {
		case len(args) == 1 && args[0] == "status":
			return fmt.Sprintf("Cluster status: [{running_nodes,['%s']}]\n", n.Name()), 0
		case len(args) == 2 && args[0] == "join":
			return "Failed to join the cluster: this node does not cluster (set cluster.listen)\n", 1
		case len(args) == 1 && args[0] == "leave":
			return "Failed to leave the cluster: node_not_in_cluster\n", 1
		case len(args) == 2 && args[0] == "force-leave":
			return "Failed to remove the node from cluster: node_not_in_cluster\n", 1
		}
		return usage("cluster"), 1
	})
}

const notFound = "Not Found.\n"

func clientsCommand(n *engine.Node, args []string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	switch {
	case len(args) == 1 && args[0] == "list":
		page, err := n.Clients(ctx, engine.ClientQuery{})
		if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		var b strings.Builder
		for i := range page.Clients {
			writeClient(&b, &page.Clients[i])
		}
		return b.String(), 0
	case len(args) == 2 && args[0] == "show":
		c, err := n.Client(ctx, args[1])
		if errors.Is(err, engine.ErrNoClient) {
			return notFound, 1
		} else if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		var b strings.Builder
		writeClientCounters(&b, &c)
		return b.String(), 0
	case len(args) == 2 && args[0] == "kick":
		err := n.Kick(ctx, args[1])
		if errors.Is(err, engine.ErrNoClient) {
			return notFound, 1
		} else if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		return "ok\n", 0
	}
	return usage("clients"), 1
}

// writeClient prints EMQX 3.2's Connection(...) line.
func writeClient(b *strings.Builder, c *engine.ClientSnapshot) {
	fmt.Fprintf(b, "Connection(%s, clean_start=%t, username=%s, peername=%s, connected_at=%d)\n",
		c.ClientID, c.CleanStart, orUndefined(c.Username), c.Peer, c.ConnectedAt.Unix())
}

// writeClientCounters prints the Connection(...) line of `clients show`: writeClient's fields
// and the connection's traffic counters under EMQX's names.
func writeClientCounters(b *strings.Builder, c *engine.ClientSnapshot) {
	k := &c.Counters
	fmt.Fprintf(b, "Connection(%s, clean_start=%t, username=%s, peername=%s, connected_at=%d, recv_oct=%d, recv_pkt=%d, recv_msg=%d, send_oct=%d, send_pkt=%d, send_msg=%d)\n",
		c.ClientID, c.CleanStart, orUndefined(c.Username), c.Peer, c.ConnectedAt.Unix(),
		k.RecvOct, k.RecvPkt, k.RecvMsg, k.SendOct, k.SendPkt, k.SendMsg)
}

func orUndefined(s string) string {
	if s == "" {
		return "undefined"
	}
	return s
}

func sessionsCommand(n *engine.Node, args []string) (string, int) {
	var q engine.SessionQuery
	switch {
	case len(args) == 1 && args[0] == "list":
	case len(args) == 2 && args[0] == "list" && (args[1] == "persistent" || args[1] == "transient"):
		p := args[1] == "persistent"
		q.Persistent = &p
	case len(args) == 2 && args[0] == "show":
		s, err := n.Session(args[1])
		if err != nil {
			return notFound, 1
		}
		var b strings.Builder
		writeSession(&b, &s)
		return b.String(), 0
	case len(args) == 2 && args[0] == "clean-persistent":
		switch err := n.CleanSession(args[1]); {
		case err == nil:
			return "Clean persistent session successfully.\n", 0
		case errors.Is(err, engine.ErrNoSession):
			return notFound, 1
		case errors.Is(err, engine.ErrSessionOnline):
			return "Couldn't clean a session with a valid connection.\n", 1
		default:
			return "Error: " + err.Error() + "\n", 1
		}
	default:
		return usage("sessions"), 1
	}
	var b strings.Builder
	page := n.Sessions(q)
	for i := range page.Sessions {
		writeSession(&b, &page.Sessions[i])
	}
	return b.String(), 0
}

// writeSession prints EMQX 3.2's Session(...) line, without the per-session counters
// (mqueue_dropped, deliver_msg, enqueue_msg) this broker does not keep. clean_start says
// whether the session ends with its connection (expiry interval 0), as in MQTT 3.x.
func writeSession(b *strings.Builder, s *engine.SessionInfo) {
	fmt.Fprintf(b, "Session(%s, clean_start=%t, expiry_interval=%d, subscriptions_count=%d, max_inflight=%d, inflight=%d, mqueue_len=%d, awaiting_rel=%d, created_at=%d)\n",
		s.ClientID, !s.Persistent(), s.ExpiryInterval, s.Subscriptions, s.MaxInflight, s.Inflight, s.QueueLen, s.AwaitingRel, s.CreatedAt.Unix())
}

func subscriptionsCommand(n *engine.Node, args []string) (string, int) {
	var b strings.Builder
	line := func(s engine.SubscriptionInfo) { fmt.Fprintf(&b, "%s -> %s\n", s.ClientID, s.Filter) }
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	switch {
	case len(args) == 1 && args[0] == "list":
		_, subs := n.Subscriptions(0, 0)
		for _, s := range subs {
			line(s)
		}
		return b.String(), 0
	case len(args) == 2 && args[0] == "show":
		subs, err := n.ClientSubscriptions(args[1])
		if err != nil || len(subs) == 0 {
			return notFound, 1
		}
		for _, s := range subs {
			line(s)
		}
		return b.String(), 0
	case len(args) == 4 && args[0] == "add":
		qos, err := strconv.Atoi(args[3])
		if err != nil || qos < 0 || qos > 2 {
			return "QoS should be 0, 1, 2\n", 1
		}
		return subscriptionAnswer(n.SubscribeClient(ctx, args[1], args[2], uint8(qos)))
	case len(args) == 3 && args[0] == "del":
		_, err := n.UnsubscribeClient(ctx, args[1], args[2])
		return subscriptionAnswer(err)
	}
	return usage("subscriptions"), 1
}

func subscriptionAnswer(err error) (string, int) {
	switch {
	case err == nil:
		return "ok\n", 0
	case errors.Is(err, engine.ErrNoSession):
		return "Error: Session not found!\n", 1
	}
	return "Error: " + err.Error() + "\n", 1
}

// routesCommand is `routes` and `topics` (EMQX 4 renamed one to the other): "filter -> node".
func routesCommand(n *engine.Node, cmd string, args []string) (string, int) {
	return clusterRoutesCommand(n, nil, cmd, args)
}

// clusterRoutesCommand is `routes` (and `topics`) with the cluster's routes from all (nil:
// this node alone): one "<filter> -> <node>" line per filter and node, by filter.
func clusterRoutesCommand(n *engine.Node, all func() [][2]string, cmd string, args []string) (string, int) {
	var routes [][2]string
	if all == nil {
		for _, r := range n.Routes() {
			routes = append(routes, [2]string{r.Filter, r.Node})
		}
	} else {
		routes = all()
		slices.SortFunc(routes, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		routes = slices.Compact(routes)
	}
	var b strings.Builder
	switch {
	case len(args) == 1 && args[0] == "list":
		for _, r := range routes {
			fmt.Fprintf(&b, "%s -> %s\n", r[0], r[1])
		}
		return b.String(), 0
	case len(args) == 2 && args[0] == "show":
		for _, r := range routes {
			if r[0] == args[1] {
				fmt.Fprintf(&b, "%s -> %s\n", r[0], r[1])
			}
		}
		return b.String(), 0
	}
	return usage(cmd), 1
}
