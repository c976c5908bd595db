package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU use of the broker, of the soak tool itself and of the whole machine, sampled with the
// timeline: the lag bound is about loops not waiting (disk, backends, locks); on a machine
// with no idle CPU it measures queueing for a core instead, so the report says which case a
// run was.

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux for every architecture
// Go supports).
const clockTick = 100

// procCPU returns the user+system CPU time a process has used (/proc/<pid>/stat; "self" for
// the soak tool), -1 when unknown.
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime+stime from a /proc/<pid>/stat line; -1 when malformed. The command
// name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
func parseProcStat(s string) time.Duration {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	// After the name: state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here.
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * time.Second / clockTick
}

// machineCPU is a reading of /proc/stat's first line: the time every CPU spent idle (idle +
// iowait), running niced work (nice > 0: other users' builds at nice 19, which yield to the
// soak's processes) and in total.
type machineCPU struct{ idle, nice, total uint64 }

func readMachineCPU() (machineCPU, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseMachineCPU(line)
}

// parseMachineCPU reads the "cpu ..." line: user nice system idle iowait irq softirq steal
// (guest times are already counted in user and nice).
func parseMachineCPU(line string) (machineCPU, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, false
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, false
		}
		v[i] = n
	}
	var m machineCPU
	for _, n := range v {
		m.total += n
	}
	m.idle, m.nice = v[3]+v[4], v[1]
	return m, true
}

// cpuSampler turns successive readings into shares over each window: the broker's and the
// soak tool's CPU in percent of one core, the machine's idle time in percent of all cores.
// The broker's pid changes at each restart: a window that spans one counts the new process
// from its start.
type cpuSampler struct {
	at      time.Time
	pid     int
	broker  time.Duration
	self    time.Duration
	machine machineCPU
	ok      bool
}

// cpuShares is one window's figures; a negative value is unknown. spare is idle plus niced
// work: what the soak's processes (nice 0 or below) could have had.
type cpuShares struct{ broker, soak, idle, spare float64 }

// sample reads the counters now and returns the shares since the previous call (all
// unknown on the first).
func (s *cpuSampler) sample(pid int) cpuShares {
	now := time.Now()
	br := procCPU(strconv.Itoa(pid))
	self := procCPU("self")
	m, mok := readMachineCPU()
	out := cpuShares{broker: -1, soak: -1, idle: -1, spare: -1}
	if s.ok {
		secs := now.Sub(s.at).Seconds()
		if br >= 0 && secs > 0 {
			prev := s.broker
			if pid != s.pid || br < prev {
				prev = 0 // a new process: all its time is in this window
			}
			out.broker = 100 * (br - prev).Seconds() / secs
		}
		if self >= 0 && s.self >= 0 && secs > 0 {
			out.soak = 100 * (self - s.self).Seconds() / secs
		}
		if mok && m.total > s.machine.total {
			d := float64(m.total - s.machine.total)
			out.idle = 100 * float64(m.idle-s.machine.idle) / d
			out.spare = 100 * float64(m.idle-s.machine.idle+m.nice-s.machine.nice) / d
		}
	}
	s.at, s.pid, s.broker, s.self, s.machine, s.ok = now, pid, br, self, m, mok
	return out
}

// cpuSummary is the mean and extreme of one share over the churn's windows.
type cpuSummary struct {
	n              int
	mean, min, max float64
}

func (c *cpuSummary) add(v float64) {
	if v < 0 {
		return
	}
	if c.n == 0 || v < c.min {
		c.min = v
	}
	c.max = max(c.max, v)
	c.mean += (v - c.mean) / float64(c.n+1)
	c.n++
}

func (c cpuSummary) String() string {
	if c.n == 0 {
		return "unknown"
	}
	return fmt.Sprintf("mean %.0f %%, min %.0f %%, max %.0f %%", c.mean, c.min, c.max)
}
