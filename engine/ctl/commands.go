package ctl

import (
	"sort"
	"strings"
)

// Usage holds the usage lines of the commands a node of this build serves, by command, in
// the form emqx_ctl prints them. The node registers its handlers with these lines, and
// emqx_ctl prints them for `emqx_ctl help` without asking a node. Read-only.
var Usage = map[string][]string{
	"status": {"status                        # Show broker status"},
	"broker": {
		"broker                        # Show broker version, uptime and description",
		"broker stats                  # Show broker statistics of clients, topics, subscribers",
		"broker metrics                # Show broker metrics",
	},
	"metrics": {"metrics                       # Show broker metrics"},
	"acl":     {"acl reload                    # reload etc/acl.conf"},
	"alarms": {
		"alarms [list]                 # Show the raised alarms",
		"alarms history                # Show the cleared alarms kept (alarm.size_limit, alarm.validity_period)",
	},
}

// Planned maps the commands of EMQX's emqx_ctl that this build does not serve yet to the
// issue that brings them. Asked for one, the node and emqx_ctl answer NotAvailable. Read-only.
var Planned = map[string]string{
	"clients": "#13", "sessions": "#13", "subscriptions": "#13", "routes": "#13", "listeners": "#13",
	"vm": "#13", "mnesia": "#13", "log": "#13", "trace": "#13", "mgmt": "#13", "retainer": "#13",
	"plugins": "#12", "users": "#12", "clientid": "#12", "banned": "#12",
	"admins":  "#14",
	"bridges": "#15",
	"cluster": "#16",
}

// NotAvailable is the answer to a planned command: "<cmd>: not available in this build yet".
func NotAvailable(cmd string) string {
	return cmd + ": not available in this build yet (issue " + Planned[cmd] + ")\n"
}

// PlannedHelp lists the planned commands on one line, for help texts.
func PlannedHelp() string {
	names := make([]string, 0, len(Planned))
	for n := range Planned {
		names = append(names, n)
	}
	sort.Strings(names)
	return "not available in this build yet: " + strings.Join(names, ", ") + "\n"
}
