package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Where the broker's anonymous memory is, so that RSS above the baseline after the churn can
// be put on its owner: the Go heap's spans holding objects (live or fragmented), stacks,
// free heap pages not yet returned, and the runtime's own metadata outside the heap arenas.

// memFacts is one reading of the broker's memory (bytes; -1 when unknown).
type memFacts struct {
	// From runtime.MemStats (the heap profile's debug=1 trailer).
	heapAlloc    int64 // live and not yet swept objects
	heapInuse    int64 // spans holding objects: heapAlloc plus the spans' fragmentation
	heapIdle     int64 // spans holding nothing
	heapReleased int64 // of heapIdle, returned to the OS
	stackInuse   int64
	mspanSys     int64 // span descriptors (never returned to the OS)
	gcSys        int64 // the collector's metadata
	otherSys     int64
	// threads is the broker's OS thread count (/proc/<pid>/status): each keeps its stack's
	// touched pages and the runtime never ends an idle one.
	threads int64
}

// memFacts reads the broker's memory facts (no collection is forced: they describe the
// moment RSS was read).
func (b *broker) memFacts() memFacts {
	m := memFacts{heapAlloc: -1, heapInuse: -1, heapIdle: -1, heapReleased: -1, stackInuse: -1, mspanSys: -1, gcSys: -1, otherSys: -1}
	if resp, err := apiClient.Get("http://127.0.0.1:" + strconv.Itoa(b.pprofPort) + "/debug/pprof/heap?debug=1"); err == nil {
		s := bufio.NewScanner(resp.Body)
		s.Buffer(make([]byte, 64<<10), 16<<20)
		for s.Scan() {
			m.parseMemStat(s.Text())
		}
		resp.Body.Close()
	}
	m.threads = b.statusNum("Threads:")
	return m
}

// parseMemStat reads one "# Name = value" or "# Name = inuse / sys" line of the trailer.
func (m *memFacts) parseMemStat(line string) {
	name, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
	if !ok {
		return
	}
	first, second, two := strings.Cut(val, " / ")
	num := func(s string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	switch name {
	case "HeapAlloc":
		m.heapAlloc = num(val)
	case "HeapInuse":
		m.heapInuse = num(val)
	case "HeapIdle":
		m.heapIdle = num(val)
	case "HeapReleased":
		m.heapReleased = num(val)
	case "Stack":
		m.stackInuse = num(first)
	case "MSpan":
		if two {
			m.mspanSys = num(second)
		}
	case "GCSys":
		m.gcSys = num(val)
	case "OtherSys":
		m.otherSys = num(val)
	}
}

// mb formats bytes as megabytes, "?" when unknown.
func mb(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", float64(n)/1e6)
}

// String prints the facts on one line.
func (m memFacts) String() string {
	frag := int64(-1)
	if m.heapInuse >= 0 && m.heapAlloc >= 0 {
		frag = m.heapInuse - m.heapAlloc
	}
	notReturned := int64(-1)
	if m.heapIdle >= 0 && m.heapReleased >= 0 {
		notReturned = m.heapIdle - m.heapReleased
	}
	return fmt.Sprintf("heap objects %s MB, spans' free slots %s, free pages not returned %s, goroutine stacks %s, span descriptors %s, GC metadata %s, other runtime %s (mapped, not all resident); %d OS threads",
		mb(m.heapAlloc), mb(frag), mb(notReturned), mb(m.stackInuse), mb(m.mspanSys), mb(m.gcSys), mb(m.otherSys), m.threads)
}

// saveSmaps copies the broker's /proc/<pid>/smaps to path: which mappings hold its
// resident memory, to compare the baseline with the end mapping by mapping.
func (b *broker) saveSmaps(path string) error {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(b.pid()) + "/smaps")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
