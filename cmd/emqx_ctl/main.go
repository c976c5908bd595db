// Command emqx_ctl manages a running node over its local control channel (a Unix socket in
// the node's data directory), as EMQX's bin/emqx_ctl does: `emqx_ctl status`,
// `emqx_ctl broker`, `emqx_ctl acl reload` and the other commands `emqx_ctl help` lists.
// `emqx_ctl help` works without a node; `emqx_ctl data verify|compact [DIR]` work locally on
// the durable store's files instead.
//
// Options, before the command: -c/--config FILE (emqx.conf; default the embedded one, or
// EMQX_CONF) and --home DIR (the node's home, as bin/emqx --home), so that emqx_ctl finds the
// same data directory as the node.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	nodehome "github.com/emqgo/emqgo/cmd/internal/home"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is emqx_ctl with its arguments and environment; it returns the exit status.
func run(args, env []string, out, errOut io.Writer) int {
	confPath, home := getenv(env, "EMQX_CONF"), ""
	for len(args) >= 2 && (args[0] == "-c" || args[0] == "--config" || args[0] == "--home") {
		if args[0] == "--home" {
			home = args[1]
		} else {
			confPath = args[1]
		}
		args = args[2:]
	}
	if len(args) == 0 || len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(out, helpText())
		return 0
	}
	if _, later := ctl.Planned[args[0]]; later {
		fmt.Fprint(errOut, ctl.NotAvailable(args[0]))
		return 1
	}
	if home != "" {
		abs, err := filepath.Abs(home)
		if err != nil {
			fmt.Fprintf(errOut, "--home %s: %v\n", home, err)
			return 1
		}
		env = append(env, config.EnvPrefix+"NODE__HOME="+abs)
	}
	cfg, _, err := config.LoadAt(confPath, env, nodehome.Default())
	if err != nil {
		fmt.Fprintf(errOut, "configuration error:\n%v\n", err)
		return 1
	}
	if args[0] == "data" {
		// Offline commands: they work on the store's files, with or without a running node.
		return runData(cfg, args[1:], out, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := ctl.Call(ctx, cfg.Node.DataDir, args)
	if err != nil {
		if errors.Is(err, ctl.ErrNodeDown) {
			fmt.Fprintf(errOut, "Node '%s' not responding to pings: %v\n", cfg.Node.Name, err)
		} else {
			fmt.Fprintln(errOut, err)
		}
		return 1
	}
	w := out
	if resp.Code != 0 {
		w = errOut
	}
	fmt.Fprint(w, resp.Output)
	return resp.Code
}

// helpText lists the commands of this build, without asking a node.
func helpText() string {
	names := make([]string, 0, len(ctl.Usage))
	for n := range ctl.Usage {
		names = append(names, n)
	}
	sort.Strings(names)
	s := "Usage: emqx_ctl [-c emqx.conf] [--home DIR] <command> [args]\n\n"
	for _, n := range names {
		for _, u := range ctl.Usage[n] {
			s += u + "\n"
		}
	}
	return s + dataUsage + "\n" + ctl.PlannedHelp()
}

func getenv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			v = kv[len(name)+1:]
		}
	}
	return v
}
