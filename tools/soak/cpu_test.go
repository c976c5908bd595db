package main

import (
	"testing"
	"time"
)

// TestParseProcStat: utime+stime are read after the command name, which may hold spaces and
// parentheses.
func TestParseProcStat(t *testing.T) {
	line := "4242 (emqx (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	if got := parseProcStat(line); got != 3*time.Second {
		t.Fatalf("cpu %v, want 3s (300 ticks)", got)
	}
	if got := parseProcStat("garbage"); got != -1 {
		t.Fatalf("malformed line: %v", got)
	}
}

func TestParseMachineCPU(t *testing.T) {
	m, ok := parseMachineCPU("cpu  100 10 50 800 20 0 20 0 0 0")
	if !ok || m.total != 1000 || m.idle != 820 || m.nice != 10 {
		t.Fatalf("%+v %v", m, ok)
	}
	if _, ok := parseMachineCPU("cpu0 1 2 3"); ok {
		t.Fatal("a per-CPU or short line accepted")
	}
}

// TestCPUSamplerSelf: the soak tool's own share follows its CPU use; a pid change counts the
// new process from zero.
func TestCPUSamplerSelf(t *testing.T) {
	var s cpuSampler
	s.sample(0)
	start, deadline := procCPU("self"), time.Now().Add(20*time.Second)
	for procCPU("self")-start < 100*time.Millisecond && time.Now().Before(deadline) { // burn CPU
	}
	sh := s.sample(0)
	if sh.soak <= 0 || sh.idle < 0 || sh.spare < sh.idle || sh.spare > 100 {
		t.Fatalf("after 100 ms of CPU: %+v", sh)
	}
}

// TestPacer: a burst of a tenth of a second's tokens, then no more than the rate.
func TestPacer(t *testing.T) {
	p := newPacer(100)
	n := 0
	for range 1000 {
		if p.allow() {
			n++
		}
	}
	if n < 10 || n > 12 {
		t.Fatalf("%d publishes allowed at once at 100/s, want the burst of 10", n)
	}
	if u := newPacer(0); !u.allow() {
		t.Fatal("no bound refused")
	}
	var sl slots
	sl.max = 2
	first, second, third := sl.take(), sl.take(), sl.take()
	if !first || !second || third {
		t.Fatalf("slots of 2: takes gave %v, %v, %v; want true, true, false", first, second, third)
	}
	sl.release()
	if !sl.take() {
		t.Fatal("slots: released one not taken again")
	}
}
