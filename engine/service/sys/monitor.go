package sys

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/emqgo/emqgo/engine/logging"
)

// Alarm names raised by the service's monitors.
const (
	AlarmStoreFailed = "durable_store_failed"     // the durable store cannot write (disk full, unwritable)
	AlarmLargeHeap   = "large_heap"               // Go heap in use above sysmon.large_heap
	AlarmLongGC      = "long_gc"                  // a GC pause above sysmon.long_gc
	AlarmLogDropped  = "log_lines_dropped"        // log lines were dropped (a stuck destination)
	AlarmSysMemory   = "high_system_memory_usage" // system memory above os_mon.sysmem_high_watermark
)

// heapMetric is the runtime metric compared with sysmon.large_heap: bytes of live and not yet
// swept heap objects (what EMQX's per-process heap size is closest to, for the whole node).
const heapMetric = "/memory/classes/heap/objects:bytes"

// monitorState is what the monitors remember between checks; owned by the service's
// goroutine.
type monitorState struct {
	ports      map[string]uint16 // listener name -> bound port, for presence
	heap       []metrics.Sample
	gc         debug.GCStats
	numGC      int64
	lastLongGC time.Time
	logDropped uint64
	lastDrop   time.Time
	memErr     bool // a failure to read MemInfo was logged

	cpu              cpuSample // the previous CPU reading (monitor_cpu.go)
	cpuSet, cpuErr   bool
	lastLongSchedule time.Time
	busy             map[string]bool // client ids reported busy in the last check
	// distAbove: routes above the limit at the last check; distBusy: those reported busy.
	distAbove, distBusy map[distKey]bool
}

func (m *monitorState) init() {
	m.heap = []metrics.Sample{{Name: heapMetric}}
	debug.ReadGCStats(&m.gc)
	m.numGC = m.gc.NumGC
}

// checkRuntime runs the frequent checks: the durable store, the heap, GC pauses, log drops.
func (s *Service) checkRuntime(now time.Time) {
	m := &s.mon
	if s.n.StoreFailed() {
		s.Raise(AlarmStoreFailed, "durable store failed: retained messages and persistent sessions are kept in memory only until it recovers", nil)
	} else {
		s.Clear(AlarmStoreFailed)
	}

	if limit := s.opts.LargeHeap; limit > 0 {
		metrics.Read(m.heap)
		var heap uint64
		if m.heap[0].Value.Kind() == metrics.KindUint64 {
			heap = m.heap[0].Value.Uint64()
		}
		if heap > uint64(limit) {
			if s.Raise(AlarmLargeHeap, fmt.Sprintf("Go heap in use %d bytes is above sysmon.large_heap %d bytes", heap, limit),
				map[string]any{"heap_bytes": heap, "large_heap": limit}) {
				s.publish(s.base+"sysmon/large_heap", fmt.Appendf(nil, "large_heap warning: heap = %d bytes, threshold = %d bytes", heap, limit), 0, false)
			}
		} else {
			s.Clear(AlarmLargeHeap)
		}
	}

	if limit := s.opts.LongGC; limit > 0 {
		debug.ReadGCStats(&m.gc)
		var longest time.Duration
		for i := range min(m.gc.NumGC-m.numGC, int64(len(m.gc.Pause))) {
			longest = max(longest, m.gc.Pause[i]) // Pause is newest first
		}
		m.numGC = m.gc.NumGC
		if longest > limit {
			m.lastLongGC = now
			s.publish(s.base+"sysmon/long_gc", fmt.Appendf(nil, "long_gc warning: pause = %s, threshold = %s", longest, limit), 0, false)
			s.Raise(AlarmLongGC, fmt.Sprintf("a GC pause of %s is above sysmon.long_gc %s", longest, limit),
				map[string]any{"pause_ms": float64(longest) / 1e6, "long_gc_ms": float64(limit) / 1e6})
		} else if now.Sub(m.lastLongGC) > s.opts.Quiet {
			s.Clear(AlarmLongGC)
		}
	}

	if d := logging.TotalDropped(); d > m.logDropped {
		m.lastDrop = now
		s.Raise(AlarmLogDropped, "log lines are being dropped: a log destination cannot keep up",
			map[string]any{"dropped": d})
		m.logDropped = d
	} else if now.Sub(m.lastDrop) > s.opts.Quiet {
		s.Clear(AlarmLogDropped)
	}
}

// checkMemory compares the system memory in use (MemTotal - MemAvailable of /proc/meminfo)
// with os_mon.sysmem_high_watermark.
func (s *Service) checkMemory() {
	high := s.opts.SysMemHighWatermark
	if high <= 0 {
		return
	}
	used, err := memoryUsage(s.opts.MemInfo)
	if err != nil {
		if !s.mon.memErr {
			s.mon.memErr = true
			s.log.Warn("cannot check system memory (os_mon)", "error", err)
		}
		return
	}
	s.mon.memErr = false
	if used > high {
		s.Raise(AlarmSysMemory, fmt.Sprintf("System memory usage is higher than %g%%", round2(high*100)),
			map[string]any{"high_watermark": round2(high * 100), "usage": round2(used * 100)})
	} else {
		s.Clear(AlarmSysMemory)
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// memoryUsage reads a meminfo file and returns the fraction of memory in use.
func memoryUsage(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var total, avail int64 = -1, -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total <= 0 || avail < 0 {
		return 0, fmt.Errorf("%s: no MemTotal or MemAvailable line", path)
	}
	return 1 - float64(avail)/float64(total), nil
}
