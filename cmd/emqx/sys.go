package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/sys"
)

// sysOptions maps broker.sys_*, module.presence*, sysmon.*, os_mon.* and alarm.* onto the
// $SYS service's options.
func sysOptions(cfg *config.Config, log *slog.Logger) sys.Options {
	m := &cfg.Monitor
	return sys.Options{
		Interval:            cfg.Broker.SysInterval,
		Heartbeat:           cfg.Broker.SysHeartbeat,
		Presence:            cfg.Modules.Presence,
		PresenceQoS:         uint8(cfg.Modules.PresenceQoS),
		LongGC:              m.LongGC,
		LargeHeap:           m.LargeHeap,
		MemCheckInterval:    m.MemCheckInterval,
		SysMemHighWatermark: m.SysMemHighWatermark,
		LongSchedule:        m.LongSchedule,
		BusyPort:            m.BusyPort,
		CPUCheckInterval:    m.CPUCheckInterval,
		CPUHighWatermark:    m.CPUHighWatermark,
		CPULowWatermark:     m.CPULowWatermark,
		AlarmLog:            slices.Contains(m.AlarmActions, "log"),
		AlarmPublish:        slices.Contains(m.AlarmActions, "publish"),
		AlarmSizeLimit:      m.AlarmSizeLimit,
		AlarmValidity:       m.AlarmValidityPeriod,
		Log:                 log,
	}
}

// startSys starts the $SYS service on a started node and registers `emqx_ctl alarms`. Stop
// the returned service before the node. nodes and distPorts come from the cluster service
// (nil: this node alone).
func startSys(s *ctl.Server, n *engine.Node, cfg *config.Config, log *slog.Logger, nodes func() []string, distPorts func() []sys.DistPort) *sys.Service {
	opts := sysOptions(cfg, log)
	opts.Nodes = nodes
	opts.DistPorts = distPorts
	svc := sys.New(n, opts)
	svc.Start()
	s.Register("alarms", func(args []string) (string, int) {
		switch {
		case len(args) == 0 || len(args) == 1 && args[0] == "list":
			active, _ := svc.Alarms()
			return formatAlarms(n.Name(), "Alarms on", active), 0
		case len(args) == 1 && args[0] == "history":
			_, cleared := svc.Alarms()
			return formatAlarms(n.Name(), "Cleared alarms on", cleared), 0
		}
		return usage("alarms"), 1
	}, ctl.Usage["alarms"]...)
	return svc
}

// formatAlarms prints alarms one per line under a title line naming the node.
func formatAlarms(node, title string, list []sys.Alarm) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:\n", title, node)
	if len(list) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, a := range list {
		fmt.Fprintf(&b, "  name: %s, message: %s, activated_at: %s", a.Name, a.Message, a.ActivatedAt.Format(time.DateTime))
		if !a.ClearedAt.IsZero() {
			fmt.Fprintf(&b, ", cleared_at: %s", a.ClearedAt.Format(time.DateTime))
		}
		b.WriteString("\n")
	}
	return b.String()
}
