package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/ctl"
)

// Command serves `emqx_ctl bridges ...` with EMQX 3.2's replies.
func (s *Set) Command(args []string) (string, int) {
	// Replies are EMQX 3.2's (emqx_bridge_mqtt_cli); a name that is not a bridge gets an
	// error line where EMQX crashed. `add-forwards`/`del-forwards` (the guide's spelling) work too.
	bridge := func() (*Bridge, string) {
		if b := s.bridges[args[1]]; b != nil {
			return b, ""
		}
		return nil, fmt.Sprintf("Error: no bridge named %s (bridges list shows them)\n", args[1])
	}
	switch {
	case len(args) == 1 && args[0] == "list":
		out := ""
		for _, m := range s.Metrics() {
			status := "Stopped"
			if m.Status == "connected" {
				status = "Running"
			}
			out += fmt.Sprintf("name: %s     status: %s\n", m.Name, status)
			out += fmt.Sprintf("    queued: %d     queued_bytes: %d     oldest_age: %s     sent: %d     received: %d     dropped: %d     reconnects: %d\n",
				m.Queued, m.QueuedBytes, m.OldestAge.Round(time.Millisecond), m.Sent, m.Received, m.Dropped, m.Reconnects)
		}
		return out, 0
	case len(args) == 2 && args[0] == "start":
		if b, _ := bridge(); b == nil {
			return "Start bridge failed.\n", 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		switch err := s.Start(ctx, args[1]); {
		case err == nil:
			return "Start bridge successfully.\n", 0
		case errors.Is(err, ErrAlreadyStarted):
			return "Bridge already started.\n", 0
		default:
			return "Start bridge failed.\n", 1
		}
	case len(args) == 2 && args[0] == "stop":
		if b, _ := bridge(); b == nil || s.Stop(args[1]) != nil {
			return "Stop bridge failed.\n", 1
		}
		return "Stop bridge successfully.\n", 0
	case len(args) == 2 && args[0] == "forwards":
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		out := ""
		for _, f := range b.Forwards() {
			out += "topic:   " + f + "\n"
		}
		return out, 0
	case len(args) == 3 && (args[0] == "add-forward" || args[0] == "add-forwards"):
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		if err := b.AddForward(args[2]); err != nil {
			return fmt.Sprintf("Add-forward failed reason: %v.\n", err), 1
		}
		return "Add-forward topic successfully.\n", 0
	case len(args) == 3 && (args[0] == "del-forward" || args[0] == "del-forwards"):
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		if err := b.DelForward(args[2]); err != nil {
			return fmt.Sprintf("Del-forward failed reason: %v.\n", err), 1
		}
		return "Del-forward topic successfully.\n", 0
	case len(args) == 2 && args[0] == "subscriptions":
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		out := ""
		for _, x := range b.Subscriptions() {
			out += fmt.Sprintf("topic: %s, qos: %d\n", x.Topic, x.QoS)
		}
		return out, 0
	case len(args) == 4 && args[0] == "add-subscription":
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		qos, err := strconv.ParseUint(args[3], 10, 8)
		if err == nil {
			err = b.AddSubscription(args[2], byte(qos))
		}
		if err != nil {
			return fmt.Sprintf("Add-subscription failed reason: %v.\n", err), 1
		}
		return "Add-subscription topic successfully.\n", 0
	case len(args) == 3 && args[0] == "del-subscription":
		b, e := bridge()
		if b == nil {
			return e, 1
		}
		if err := b.DelSubscription(args[2]); err != nil {
			return fmt.Sprintf("Del-subscription failed reason: %v.\n", err), 1
		}
		return "Del-subscription topic successfully.\n", 0
	}
	return strings.Join(ctl.Usage["bridges"], "\n") + "\n", 1
}
