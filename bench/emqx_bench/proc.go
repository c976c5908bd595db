package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procSample is what /proc tells about a process at one moment.
type procSample struct {
	ok     bool
	RSS    int64         // resident set, bytes
	HWM    int64         // peak resident set, bytes
	CPU    time.Duration // user + system
	Thread int
}

// clockTick is USER_HZ, which is 100 on every Linux architecture Go supports.
const clockTick = 100

// readProc samples process pid; ok is false when it cannot be read.
func readProc(pid int) procSample {
	var s procSample
	if pid <= 0 {
		return s
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s
	}
	// The command name may hold spaces and parentheses: the fields follow the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 { // f[0] is field 3 (state); utime is field 14, stime 15, threads 20
		return s
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * time.Second / clockTick
	s.Thread, _ = strconv.Atoi(f[17])
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSS = parseKB(v)
		case "VmHWM":
			s.HWM = parseKB(v)
		}
	}
	s.ok = true
	return s
}

func parseKB(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n << 10
}

// selfCPU returns the user + system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
