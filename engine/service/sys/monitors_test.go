package sys

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// TestCPUAlarm: high_cpu_usage is raised above cpu_high_watermark over the last interval,
// kept between the watermarks, cleared below cpu_low_watermark, and carries the node's own
// share from its stat file.
func TestCPUAlarm(t *testing.T) {
	n, addr := startNode(t)
	dir := t.TempDir()
	stat, self := filepath.Join(dir, "stat"), filepath.Join(dir, "self")
	var total, idle, mine int
	write := func(busy, free, own int) { // jiffies spent busy and idle since the last write
		t.Helper()
		total += busy + free
		idle += free
		mine += own
		// user nice system idle iowait irq softirq steal guest guest_nice: busy time in user,
		// idle time split between idle and iowait; guest (counted in user already) is ignored.
		line := []int{busy, 0, 0, idle - idle/4, idle / 4, 0, 0, 0, 999, 999}
		line[0] = total - idle
		var b strings.Builder
		b.WriteString("cpu ")
		for _, v := range line {
			b.WriteString(" " + strconv.Itoa(v))
		}
		b.WriteString("\ncpu0 1 2 3 4\n")
		for _, f := range []struct{ name, data string }{
			{stat, b.String()},
			{self, "42 (emqx (test) x) S 1 2 3 4 5 6 7 8 9 10 " + strconv.Itoa(mine/2) + " " + strconv.Itoa(mine-mine/2) + " 0 0 20 0\n"},
		} {
			if err := os.WriteFile(f.name+".tmp", []byte(f.data), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f.name+".tmp", f.name); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(100, 100, 10)
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/alarms/#")
	s := New(n, Options{CPUCheckInterval: time.Hour, CPUHighWatermark: 0.8, CPULowWatermark: 0.6, ProcStat: stat, ProcSelfStat: self,
		AlarmPublish: true, AlarmSizeLimit: 10})
	s.checkCPU() // the baseline
	base := "$SYS/brokers/" + n.Name() + "/alarms/"

	write(90, 10, 45) // 90% busy, the node 45% of the machine
	s.checkCPU()
	p := in.next(t, "alarm alert", func(tp string) bool { return tp == base+"alert" })
	var a AlarmPayload
	if err := json.Unmarshal(p.Payload, &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != AlarmHighCPU || a.Message != "CPU usage is higher than 80%" || a.Details["usage"] != 90.0 ||
		a.Details["node_usage"] != 45.0 || a.Details["high_watermark"] != 80.0 || a.Details["low_watermark"] != 60.0 {
		t.Fatalf("alert %s", p.Payload)
	}
	write(70, 30, 0) // between the watermarks: still raised
	s.checkCPU()
	if active, _ := s.Alarms(); len(active) != 1 || active[0].Name != AlarmHighCPU {
		t.Fatalf("between the watermarks: %+v", active)
	}
	write(50, 50, 0)
	s.checkCPU()
	in.next(t, "alarm clear", func(tp string) bool { return tp == base+"clear" })
	if active, _ := s.Alarms(); len(active) != 0 {
		t.Fatalf("after clearing: %+v", active)
	}

	// A missing file disables the check with one warning, no alarm.
	s.opts.ProcStat = filepath.Join(dir, "none")
	s.checkCPU()
	if !s.mon.cpuErr {
		t.Fatal("a missing /proc/stat was not noted")
	}
}

// TestSelfTicks reads utime and stime after a command name holding spaces and parentheses.
func TestSelfTicks(t *testing.T) {
	got, err := selfTicks([]byte("7 (a) b) R 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0"))
	if err != nil || got != 300 {
		t.Fatalf("selfTicks = %d, %v; want 300", got, err)
	}
	if _, err := selfTicks([]byte("7 (a) R 1")); err == nil {
		t.Fatal("a short line was accepted")
	}
}

// TestLongScheduleAlarm: an event loop held busy (here by a hook that sleeps, which real hooks
// must never do) past sysmon.long_schedule raises long_schedule and publishes
// .../sysmon/long_schedule.
func TestLongScheduleAlarm(t *testing.T) {
	n, addr := startNode(t)
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/sysmon/long_schedule")
	s := startService(t, n, Options{Check: 20 * time.Millisecond, LongSchedule: 50 * time.Millisecond, AlarmSizeLimit: 10})
	remove := n.AddHooks(&engine.Hooks{ClientConnected: func(ev *engine.ClientEvent) {
		if ev.ClientID == "slow" {
			time.Sleep(400 * time.Millisecond)
		}
	}})
	t.Cleanup(remove)
	client(t, addr, nil, &paho.Connect{ClientID: "slow", CleanStart: true})
	p := in.next(t, "sysmon/long_schedule", func(tp string) bool { return strings.HasSuffix(tp, "/sysmon/long_schedule") })
	if !strings.HasPrefix(string(p.Payload), "long_schedule warning: event loop ") || !strings.Contains(string(p.Payload), "threshold = 50ms") {
		t.Fatalf("payload %q", p.Payload)
	}
	active, _ := s.Alarms()
	if len(active) != 1 || active[0].Name != AlarmLongSchedule || active[0].Details["lag_ms"].(float64) <= 50 {
		t.Fatalf("active alarms %+v", active)
	}
}

// TestBusyPortAlarm: with sysmon.busy_port a subscriber that stops reading while its output
// backlog stays above the high-water mark raises busy_port (and .../sysmon/busy_port names
// it); once it is gone, the alarm clears.
func TestBusyPortAlarm(t *testing.T) {
	n, addr := startNodeWith(t, func(c *engine.Config) {
		z := c.Listeners[0].Zone
		z.HighWater = 32 << 10
		z.SendTimeout = time.Hour
	})
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/sysmon/busy_port")
	s := startService(t, n, Options{Check: 50 * time.Millisecond, BusyPort: true, AlarmSizeLimit: 10})

	stuck, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	stuck.(*net.TCPConn).SetReadBuffer(4096)
	stuck.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, KeepAlive: 60, ClientID: []byte("stuck")}))
	stuck.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("big/#")}}}, codec.V311))
	pub, _ := client(t, addr, nil, &paho.Connect{ClientID: "pub", CleanStart: true})
	payload := make([]byte, 8<<10)
	deadline := time.Now().Add(10 * time.Second)
	for raised := false; !raised; {
		if time.Now().After(deadline) {
			t.Fatal("busy_port not raised")
		}
		for range 20 {
			if _, err := pub.Publish(ctx(t), &paho.Publish{Topic: "big/x", QoS: 1, Payload: payload}); err != nil {
				t.Fatal(err)
			}
		}
		active, _ := s.Alarms()
		raised = len(active) == 1 && active[0].Name == AlarmBusyPort
		time.Sleep(20 * time.Millisecond)
	}
	p := in.next(t, "sysmon/busy_port", func(tp string) bool { return strings.HasSuffix(tp, "/sysmon/busy_port") })
	if !strings.HasPrefix(string(p.Payload), "busy_port warning: client = stuck, peer = 127.0.0.1:") {
		t.Fatalf("payload %q", p.Payload)
	}
	stuck.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		if active, _ := s.Alarms(); len(active) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("busy_port not cleared once the connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
