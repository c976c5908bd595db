package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/emqgo/emqgo/engine"
)

// vmCommand is `emqx_ctl vm`, EMQX's view of the Erlang VM mapped to Go facts:
//   - load: the system load averages (/proc/loadavg), as EMQX's cpu/load1|5|15;
//   - memory: runtime.MemStats in bytes (total: Sys, all memory obtained from the OS;
//     heap_*, stack_*, gc_sys, other_sys: its parts);
//   - process: goroutines (count) and OS threads (threads) instead of Erlang processes;
//   - io: the open-files limit (max_fds, RLIMIT_NOFILE) and the descriptors open now
//     (active_fds, /proc/self/fd);
//   - ports: MQTT connections (count) and the sum of the listeners' max_connections (limit, 0
//     when one is unlimited) instead of Erlang ports.
func vmCommand(n *engine.Node, args []string) (string, int) {
	groups := map[string]func(*strings.Builder){
		"load": vmLoad, "memory": vmMemory, "process": vmProcess, "io": vmIO,
		"ports": func(b *strings.Builder) { vmPorts(b, n) },
	}
	var b strings.Builder
	switch {
	case len(args) == 0 || len(args) == 1 && args[0] == "all":
		for _, g := range []string{"load", "memory", "process", "io", "ports"} {
			groups[g](&b)
		}
	case len(args) == 1 && groups[args[0]] != nil:
		groups[args[0]](&b)
	default:
		return usage("vm"), 1
	}
	return b.String(), 0
}

func vmLoad(b *strings.Builder) {
	raw, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if err != nil || len(f) < 3 {
		fmt.Fprintf(b, "cpu/%-20s: %s\n", "load1", "unknown (no /proc/loadavg)")
		return
	}
	for i, name := range []string{"load1", "load5", "load15"} {
		fmt.Fprintf(b, "cpu/%-20s: %s\n", name, f[i])
	}
}

func vmMemory(b *strings.Builder) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	for _, kv := range []struct {
		k string
		v uint64
	}{
		{"total", m.Sys}, {"heap_sys", m.HeapSys}, {"heap_inuse", m.HeapInuse}, {"heap_alloc", m.HeapAlloc},
		{"heap_released", m.HeapReleased}, {"stack_sys", m.StackSys}, {"stack_inuse", m.StackInuse},
		{"gc_sys", m.GCSys}, {"other_sys", m.OtherSys},
	} {
		fmt.Fprintf(b, "memory/%-17s: %d\n", kv.k, kv.v)
	}
}

func vmProcess(b *strings.Builder) {
	fmt.Fprintf(b, "process/%-16s: %d\n", "count", runtime.NumGoroutine())
	fmt.Fprintf(b, "process/%-16s: %d\n", "threads", pprof.Lookup("threadcreate").Count())
}

func vmIO(b *strings.Builder) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		fmt.Fprintf(b, "io/%-21s: %d\n", "max_fds", lim.Cur)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		fmt.Fprintf(b, "io/%-21s: %d\n", "active_fds", len(fds))
	}
}

func vmPorts(b *strings.Builder, n *engine.Node) {
	limit := 0
	for _, l := range n.Config().Listeners {
		if l.MaxConnections <= 0 {
			limit = 0
			break
		}
		limit += l.MaxConnections
	}
	fmt.Fprintf(b, "ports/%-16s: %d\n", "count", n.Stats().Connections)
	fmt.Fprintf(b, "ports/%-16s: %d\n", "limit", limit)
}
