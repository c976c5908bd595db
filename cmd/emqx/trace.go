package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/trace"
)

// startTrace starts the trace service on n and registers `emqx_ctl trace`. Relative trace
// file names resolve against the node's home; each trace's lines are also published live
// under $SYS/brokers/<node>/trace/. Close the service before stopping the node.
func startTrace(s *ctl.Server, n *engine.Node, cfg *config.Config, log *slog.Logger) *trace.Service {
	svc := trace.New(n, trace.Options{Dir: cfg.Node.Home, Log: log, Publish: true})
	s.Register("trace", func(args []string) (string, int) { return traceCmd(svc, args) }, ctl.Usage["trace"]...)
	return svc
}

// traceCmd runs `emqx_ctl trace ...` with EMQX 3.2's answers: "trace client c1
// successfully", "[error] trace client c1: already_existed", "stop tracing client c1
// successfully", and `trace list` lines Trace(client=c1, level=debug, destination="file").
func traceCmd(svc *trace.Service, args []string) (string, int) {
	switch {
	case len(args) == 1 && args[0] == "list":
		var b strings.Builder
		for _, t := range svc.List() {
			fmt.Fprintf(&b, "Trace(%s=%s, level=%s, destination=%q)\n", t.Kind, t.Name, t.Level, t.File)
		}
		return b.String(), 0
	case (len(args) == 4 || len(args) == 5) && args[0] == "start" && (args[1] == "client" || args[1] == "topic"):
		level := ""
		if len(args) == 5 {
			level = args[4]
		}
		if err := svc.Start(trace.Kind(args[1]), args[2], args[3], level); err != nil {
			return fmt.Sprintf("[error] trace %s %s: %v\n", args[1], args[2], err), 1
		}
		return fmt.Sprintf("trace %s %s successfully\n", args[1], args[2]), 0
	case len(args) == 3 && args[0] == "stop" && (args[1] == "client" || args[1] == "topic"):
		if err := svc.Stop(trace.Kind(args[1]), args[2]); err != nil {
			return fmt.Sprintf("[error] stop tracing %s %s: %v\n", args[1], args[2], err), 1
		}
		return fmt.Sprintf("stop tracing %s %s successfully\n", args[1], args[2]), 0
	}
	return usage("trace"), 1
}
