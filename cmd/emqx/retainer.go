package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// retainerCmd answers `emqx_ctl retainer info|topics|clean` with EMQX 3.2's (emqx_retainer's)
// output: "retained/total: N", one topic a line, "Cleaned N retained messages". The topics are
// those of "#" and "$SYS/#" (a retained message on another '$' topic is counted by info but not
// listed or cleaned).
func retainerCmd(n *engine.Node, args []string) (string, int) {
	if len(args) != 1 {
		return usage("retainer"), 1
	}
	topics := func() ([]string, error) {
		var all []string
		for _, f := range []string{"#", "$SYS/#"} {
			_, ms, err := n.RetainedMessages(f, 0, 0)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				all = append(all, m.Topic)
			}
		}
		return all, nil
	}
	switch args[0] {
	case "info":
		return "retained/total: " + strconv.FormatInt(n.Stats().Retained, 10) + "\n", 0
	case "topics":
		ts, err := topics()
		if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		if len(ts) == 0 {
			return "", 0
		}
		return strings.Join(ts, "\n") + "\n", 0
	case "clean":
		ts, err := topics()
		if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		cleaned := 0
		for _, t := range ts {
			if n.DeleteRetained(t) == nil {
				cleaned++
			}
		}
		return fmt.Sprintf("Cleaned %d retained messages\n", cleaned), 0
	}
	return usage("retainer"), 1
}
