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
	"clients": {
		"clients list                  # List all clients",
		"clients show <ClientId>       # Show a client",
		"clients kick <ClientId>       # Kick out a client",
	},
	"sessions": {
		"sessions list                 # List all sessions",
		"sessions list persistent      # List the sessions that outlive their connection",
		"sessions list transient       # List the sessions that end with their connection",
		"sessions show <ClientId>      # Show a session",
		"sessions clean-persistent <ClientId> # Clean a persistent session (its client offline)",
	},
	"subscriptions": {
		"subscriptions list            # List all subscriptions",
		"subscriptions show <ClientId> # Show subscriptions of a client",
		"subscriptions add <ClientId> <Topic> <QoS> # Add a subscription for a client",
		"subscriptions del <ClientId> <Topic> # Delete a subscription of a client",
	},
	"routes": {
		"routes list                   # List all routes",
		"routes show <Topic>           # Show a route",
	},
	"topics": {
		"topics list                   # List all topics",
		"topics show <Topic>           # Show a topic",
	},
	"vm": {
		"vm all                        # Show info of the Go runtime",
		"vm load                       # Show the system load averages",
		"vm memory                     # Show memory of the Go runtime",
		"vm process                    # Show goroutines and threads",
		"vm io                         # Show file descriptors",
		"vm ports                      # Show connections (Erlang's ports)",
	},
	"retainer": {
		"retainer info                 # Show the count of retained messages",
		"retainer topics               # Show all topics of retained messages",
		"retainer clean                # Clean all retained messages",
	},
	"mnesia": {"mnesia                        # There is no Mnesia: see data verify"},
	"log": {
		"log set-level <Level>         # Set the overall log level",
		"log primary-level             # Show the primary log level now",
		"log primary-level <Level>     # Set the primary log level",
		"log handlers list             # Show log handlers",
		"log handlers set-level <HandlerId> <Level> # Set log level of a log handler",
		"log handlers start <HandlerId>  # Start a stopped log handler",
		"log handlers stop  <HandlerId>  # Stop a log handler: it writes nothing until started",
	},
	"cluster": {
		"cluster join <Node>           # Join the cluster",
		"cluster leave                 # Leave the cluster",
		"cluster force-leave <Node>    # Force the node leave from cluster",
		"cluster status                # Cluster status",
	},
	"listeners": {
		"listeners                     # List listeners",
		"listeners stop    <Identifier> # Stop a listener (refuse new connections, close current ones)",
		"listeners stop    <Proto> <Port> # EMQX 3.2's form: mqtt:tcp 1883 (or mqtt:tcp 127.0.0.1:1883)",
		"listeners start   <Identifier> # Start a stopped listener",
		"listeners restart <Identifier> # Restart a listener (stop, then start; ssl/wss: reload the certificate files, connections stay)",
	},
	"plugins": {
		"plugins list                  # Show loaded plugins",
		"plugins load <Plugin>         # Load plugin",
		"plugins unload <Plugin>       # Unload plugin",
		"plugins reload <Plugin>       # Reload plugin",
	},
	"users": {
		"users list                    # List users",
		"users add <Username> <Password> # Add User",
		"users update <Username> <NewPassword> # Update User",
		"users del <Username>          # Delete User",
	},
	"clientid": {
		"clientid list                 # List ClientId",
		"clientid add <ClientId> <Password> # Add ClientId",
		"clientid update <ClientId> <NewPassword> # Update ClientId",
		"clientid del <ClientId>       # Delete ClientId",
	},
	"trace": {
		"trace list                    # List all traces started",
		"trace start client <ClientId> <File> [<Level>] # Traces for a client",
		"trace stop  client <ClientId> # Stop tracing for a client",
		"trace start topic  <Topic> <File> [<Level>] # Traces for a topic",
		"trace stop  topic  <Topic>    # Stop tracing for a topic",
	},
	"alarms": {
		"alarms [list]                 # Show the raised alarms",
		"alarms history                # Show the cleared alarms kept (alarm.size_limit, alarm.validity_period)",
	},
	"mgmt": {
		"mgmt list                     # List Applications",
		"mgmt insert <AppId> <Name>    # Add Application of REST API",
		"mgmt update <AppId> <status>  # Update Application of REST API (status: true or false)",
		"mgmt lookup <AppId>           # Get Application of REST API",
		"mgmt delete <AppId>           # Delete Application of REST API",
	},
	"admins": {
		"admins add <Username> <Password> <Tags> # Add dashboard user",
		"admins passwd <Username> <Password> # Reset dashboard user password",
		"admins del <Username>         # Delete dashboard user",
	},
	"bridges": {
		"bridges list                  # List bridges",
		"bridges start <Name>          # Start a bridge",
		"bridges stop <Name>           # Stop a bridge",
		"bridges forwards <Name>       # Show a bridge forward topic",
		"bridges add-forward <Name> <Topic> # Add bridge forward topic",
		"bridges del-forward <Name> <Topic> # Delete bridge forward topic",
		"bridges subscriptions <Name>  # Show a bridge subscriptions topic",
		"bridges add-subscription <Name> <Topic> <Qos> # Add bridge subscriptions topic",
		"bridges del-subscription <Name> <Topic> # Delete bridge subscriptions topic",
	},
	"banned": {
		"banned list                   # List the bans in force",
		"banned add --type=<client_id|username|ip_address> --value=<Value> [--by=<By>] [--reason=<Reason>] [--until=<Until>]",
		"                              # Ban clients; Until: Unix seconds, RFC 3339 or a duration (5m); none: until deleted",
		"banned del --type=<client_id|username|ip_address> --value=<Value>  # Lift a ban",
	},
}

// Planned maps the commands of EMQX's emqx_ctl that this build does not serve yet to the
// issue that brings them. Asked for one, the node and emqx_ctl answer NotAvailable. Read-only.
var Planned = map[string]string{}

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
