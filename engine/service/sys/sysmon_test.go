package sys

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestLongGCAndLargeHeapTopics: the guide's sysmon/long_gc and sysmon/large_heap topics. With
// sysmon.large_heap at 1 byte the heap is always above it, and with sysmon.long_gc at 1ns any
// GC pause is long: a subscriber of .../sysmon/# receives both warnings, and both alarms are
// raised (and published on alarms/alert).
func TestLongGCAndLargeHeapTopics(t *testing.T) {
	n, addr := startNode(t)
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	if rc := subscribe(t, w, "$SYS/brokers/"+n.Name()+"/sysmon/#"); rc != 1 {
		t.Fatalf("SUBACK %#x", rc)
	}
	a, ain := client(t, addr, nil, &paho.Connect{ClientID: "alarms", CleanStart: true})
	subscribe(t, a, "$SYS/brokers/+/alarms/alert")
	s := startService(t, n, Options{Check: 20 * time.Millisecond, LargeHeap: 1, LongGC: time.Nanosecond,
		AlarmPublish: true, AlarmSizeLimit: 10})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // GC pauses for the monitor to see
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				runtime.GC()
			}
		}
	}()

	base := "$SYS/brokers/" + n.Name() + "/sysmon/"
	want := map[string]*regexp.Regexp{
		base + "large_heap": regexp.MustCompile(`^large_heap warning: heap = \d+ bytes, threshold = 1 bytes$`),
		base + "long_gc":    regexp.MustCompile(`^long_gc warning: pause = \S+, threshold = 1ns$`),
	}
	seen := map[string]bool{}
	for len(seen) < len(want) {
		p := in.next(t, "sysmon/large_heap and sysmon/long_gc", func(tp string) bool { return want[tp] != nil })
		if !want[p.Topic].Match(p.Payload) {
			t.Fatalf("%s: payload %q", p.Topic, p.Payload)
		}
		if p.Retain {
			t.Errorf("%s is retained", p.Topic)
		}
		seen[p.Topic] = true
	}
	alerts := map[string]bool{}
	for len(alerts) < 2 {
		p := ain.next(t, "alarms/alert of large_heap and long_gc", func(string) bool { return true })
		switch {
		case strings.Contains(string(p.Payload), `"name":"large_heap"`):
			alerts["large_heap"] = true
		case strings.Contains(string(p.Payload), `"name":"long_gc"`):
			alerts["long_gc"] = true
		}
	}
	active, _ := s.Alarms()
	names := map[string]bool{}
	for _, al := range active {
		names[al.Name] = true
	}
	if !names[AlarmLargeHeap] || !names[AlarmLongGC] {
		t.Fatalf("active alarms %+v", active)
	}
}
