package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of this process when EMQX_BENCH_CPUPROFILE names a path
// prefix: the file is PREFIX.COMMAND.PID, so that the suite's runs (child processes of the
// suite) each leave their own. It shows what the tool itself spends, e.g. whether its TLS
// handshakes rather than the broker's bound a connect rate. The returned function stops it.
func startProfile(cmd string) (func(), error) {
	prefix := os.Getenv("EMQX_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%s.%d", prefix, cmd, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("EMQX_BENCH_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("EMQX_BENCH_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
