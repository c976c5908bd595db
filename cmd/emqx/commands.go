package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/sys"
)

// registerCommands installs the emqx_ctl commands the node answers.
func registerCommands(s *ctl.Server, n *engine.Node, cfg *config.Config, levels *logLevels, stop chan<- string) {
	name := n.Name()
	registerManagement(s, n, levels)
	s.Register("ping", func([]string) (string, int) { return "pong\n", 0 })
	s.Register("stop", func([]string) (string, int) {
		select {
		case stop <- "emqx stop":
		default:
		}
		return "ok\n", 0
	})
	s.Register("metrics", func(args []string) (string, int) {
		if len(args) > 0 {
			return usage("metrics"), 1
		}
		return metrics(n), 0
	}, ctl.Usage["metrics"]...)
	s.Register("status", func(args []string) (string, int) {
		if len(args) > 0 {
			return usage("status"), 1
		}
		return fmt.Sprintf("Node '%s' is started\nemqgo %s is running\n", name, engine.Version), 0
	}, ctl.Usage["status"]...)
	s.Register("broker", func(args []string) (string, int) {
		switch {
		case len(args) == 0:
			return fmt.Sprintf("sysdescr  : %s\nversion   : %s\nuptime    : %s\ndatetime  : %s\n",
				engine.SysDescr, engine.Version, humanUptime(n.Uptime()), time.Now().Format("2006-01-02 15:04:05")), 0
		case len(args) == 1 && args[0] == "stats":
			return brokerStats(n), 0
		case len(args) == 1 && args[0] == "metrics":
			return metrics(n), 0 // EMQX 3.x's form of `emqx_ctl metrics`
		}
		return usage("broker"), 1
	}, ctl.Usage["broker"]...)
	s.Register("listeners", func(args []string) (string, int) { return listenersCmd(n, args) }, ctl.Usage["listeners"]...)
	s.Register("retainer", func(args []string) (string, int) { return retainerCmd(n, args) }, ctl.Usage["retainer"]...)
	s.Register("acl", func(args []string) (string, int) {
		if len(args) != 1 || args[0] != "reload" {
			return usage("acl"), 1
		}
		return reloadACL(n, cfg)
	}, ctl.Usage["acl"]...)
}

// usage is the answer to a command called wrongly: its usage lines.
func usage(cmd string) string {
	return strings.Join(ctl.Usage[cmd], "\n") + "\n"
}

// reloadACL re-reads acl_file and swaps the node's rules; on an error (a missing file the
// configuration names, a rule that does not parse, with its file and line) the rules in force
// stay.
func reloadACL(n *engine.Node, cfg *config.Config) (string, int) {
	rules, err := wire.LoadACL(cfg)
	if err != nil {
		return "reload failed, the rules in force are unchanged: " + err.Error() + "\n", 1
	}
	n.SetACL(rules)
	return "ok\n", 0
}

// metrics prints the node's metrics as EMQX 3.2's `broker metrics`: "name: value" lines
// sorted by name, the name padded to 30 columns.
func metrics(n *engine.Node) string {
	ms := n.Metrics()
	rows := make([]sys.Stat, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, sys.Stat{Name: m.Name, Value: int64(m.Value)})
	}
	return statLines(rows)
}

// brokerStats prints the node's statistics as EMQX 3.2's `broker stats`, under the names of
// the $SYS stats topics (sys.Stats).
func brokerStats(n *engine.Node) string { return statLines(sys.Stats(n)) }

// statLines prints rows sorted by name as EMQX's "~-30s: ~w" lines.
func statLines(rows []sys.Stat) string {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-30s: %d\n", r.Name, r.Value)
	}
	return b.String()
}

// humanUptime prints a duration as EMQX does: "1 days, 2 hours, 3 minutes, 4 seconds",
// leaving out leading zero units.
func humanUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	parts := []struct {
		n    int64
		unit string
	}{{secs / 86400, "days"}, {secs / 3600 % 24, "hours"}, {secs / 60 % 60, "minutes"}, {secs % 60, "seconds"}}
	var out []string
	for _, p := range parts {
		if len(out) == 0 && p.n == 0 && p.unit != "seconds" {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", p.n, p.unit))
	}
	return strings.Join(out, ", ")
}
