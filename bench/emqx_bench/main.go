// Command emqx_bench is the load generator of emqgo: MQTT clients on a few gnet event
// loops, pipelined, that publish stamped messages (publisher, sequence number, time) and
// measure delivered rate, end-to-end latency, loss, duplicates and order. Scenarios as the
// field names them (conn, pub, sub, p2p, fanin, fanout, shared), a trivial sink to show the
// tool's own ceiling, and the `make bench` suite against our broker and its peers.
//
//	emqx_bench fanin -broker 127.0.0.1:1883 -pubs 8 -subs 1 -qos 1 -duration 10s
//	emqx_bench p2p -clients 8 -total-rate 20k -qos 0
//	emqx_bench conn -clients 15000 -conn-rate 5000 -filter 'bench/conn/%i' -broker-pid $(pidof emqx)
//	emqx_bench sink -listen 127.0.0.1:18830
//	emqx_bench suite -out bench/results
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: emqx_bench SCENARIO [flags]     (emqx_bench SCENARIO -h lists the flags)

scenarios:
  conn     N connections at a rate, each with an optional subscription, held idle (RSS per connection)
  pub      publishers only
  sub      subscribers only (counts whatever arrives; stamped messages give latency)
  p2p      P publishers, each to its own subscriber
  fanin    many publishers -> few subscribers on a wildcard
  fanout   one topic -> many subscribers
  shared   many publishers -> a $share group
  echo     each client publishes to its own topic and subscribes to it (with sink -echo: the tool's receive ceiling)

other commands:
  sink     a trivial MQTT server that acknowledges and discards: the tool's own ceiling
  suite    the make bench suite: our broker against Mosquitto and mochi, side by side
  authhttp the storm rows' emqx_auth_http backend (prints its address, answers after -delay)
`)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	if stopProfile, err := startProfile(cmd); err != nil {
		fmt.Fprintln(os.Stderr, "emqx_bench:", err)
		os.Exit(1)
	} else {
		defer stopProfile()
	}
	var err error
	switch cmd {
	case "sink":
		err = runSink(ctx, args)
	case "suite":
		err = runSuite(ctx, args)
	case "authhttp":
		err = runAuthHTTP(ctx, args)
	default:
		err = runScenario(ctx, cmd, args)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "emqx_bench:", err)
		os.Exit(1)
	}
}

func runScenario(ctx context.Context, name string, args []string) error {
	known := false
	for _, s := range scenarios {
		known = known || s == name
	}
	if !known {
		usage()
		return fmt.Errorf("unknown command %q (%s, sink, suite)", name, strings.Join(scenarios, ", "))
	}
	o, err := parseOptions(name, args, os.Stderr)
	if err != nil {
		return err
	}
	res, err := newRunner(o, os.Stderr).run(ctx)
	if err != nil {
		return err
	}
	// The table is for people (stderr, beside the progress lines); stdout carries one JSON
	// object on one line, for scripts.
	res.WriteTable(os.Stderr)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return err
	}
	switch o.JSON {
	case "", "-":
	default:
		f, err := os.Create(o.JSON)
		if err != nil {
			return err
		}
		if err := res.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
