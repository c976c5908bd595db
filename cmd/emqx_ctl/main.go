// Command emqx_ctl manages a running node over its local control channel (a Unix socket in
// the node's data directory), as EMQX's bin/emqx_ctl does: `emqx_ctl status`,
// `emqx_ctl broker`, and the other commands the node lists when called with no arguments.
// `emqx_ctl data verify|compact [DIR]` work locally on the durable store's files instead.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
)

func main() {
	args := os.Args[1:]
	confPath := os.Getenv("EMQX_CONF")
	for len(args) >= 2 && (args[0] == "-c" || args[0] == "--config") {
		confPath, args = args[1], args[2:]
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		args = nil
	}
	cfg, _, err := config.Load(confPath, os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "configuration error:\n%v\n", err)
		os.Exit(1)
	}
	if len(args) > 0 && args[0] == "data" {
		// Offline commands: they work on the store's files, with or without a running node.
		os.Exit(runData(cfg, args[1:], os.Stdout, os.Stderr))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := ctl.Call(ctx, cfg.Node.DataDir, args)
	if err != nil {
		if errors.Is(err, ctl.ErrNodeDown) {
			fmt.Fprintf(os.Stderr, "Node '%s' not responding to pings.\n", cfg.Node.Name)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	fmt.Print(resp.Output)
	os.Exit(resp.Code)
}
