package sys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// AlarmHighCPU is raised while the system's CPU use is above os_mon.cpu_high_watermark, and
// cleared once it is below os_mon.cpu_low_watermark (EMQX's os_mon CPU alarm).
const AlarmHighCPU = "high_cpu_usage"

// cpuSample is one reading of the CPU counters: jiffies (USER_HZ ticks) of every CPU since
// boot from /proc/stat's "cpu" line (all, and idle including iowait), and the node's own user
// and system ticks from /proc/self/stat.
type cpuSample struct {
	total, idle uint64
	self        uint64
	selfOK      bool
}

// checkCPU reads the CPU counters and compares the system's use since the previous reading
// with the watermarks. The first reading only sets the baseline.
func (s *Service) checkCPU() {
	cur, err := readCPU(s.opts.ProcStat, s.opts.ProcSelfStat)
	if err != nil {
		if !s.mon.cpuErr {
			s.mon.cpuErr = true
			s.log.Warn("cannot check CPU use (os_mon)", "error", err)
		}
		return
	}
	s.mon.cpuErr = false
	prev, had := s.mon.cpu, s.mon.cpuSet
	s.mon.cpu, s.mon.cpuSet = cur, true
	if !had || cur.total <= prev.total {
		return
	}
	dt := float64(cur.total - prev.total)
	used := 1 - float64(cur.idle-prev.idle)/dt
	details := map[string]any{"usage": round2(used * 100), "high_watermark": round2(s.opts.CPUHighWatermark * 100),
		"low_watermark": round2(s.opts.CPULowWatermark * 100)}
	if cur.selfOK && prev.selfOK && cur.self >= prev.self {
		details["node_usage"] = round2(float64(cur.self-prev.self) / dt * 100) // share of the whole machine
	}
	switch {
	case used > s.opts.CPUHighWatermark:
		s.Raise(AlarmHighCPU, fmt.Sprintf("CPU usage is higher than %g%%", round2(s.opts.CPUHighWatermark*100)), details)
	case used < s.opts.CPULowWatermark:
		s.Clear(AlarmHighCPU)
	}
}

// readCPU reads /proc/stat (stat) and /proc/self/stat (self; its failure only leaves out the
// node's own share).
func readCPU(stat, self string) (cpuSample, error) {
	var c cpuSample
	data, err := os.ReadFile(stat)
	if err != nil {
		return c, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return c, fmt.Errorf("%s: the first line is not the \"cpu\" totals", stat)
	}
	for i, x := range f[1:] {
		v, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s: cpu field %d: %w", stat, i+1, err)
		}
		if i >= 8 {
			break // guest and guest_nice are already counted in user and nice
		}
		c.total += v
		if i == 3 || i == 4 { // idle, iowait
			c.idle += v
		}
	}
	if b, err := os.ReadFile(self); err == nil {
		c.self, err = selfTicks(b)
		c.selfOK = err == nil
	}
	return c, nil
}

// selfTicks returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat line; the command
// name (field 2) may hold spaces and parentheses, so fields count from its last ')'.
func selfTicks(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + s, nil
}
