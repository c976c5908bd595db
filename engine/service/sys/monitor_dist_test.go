package sys

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// fakeDist is a DistPorts source playing a script: each read returns the next step, the
// last step again once the script is played.
type fakeDist struct {
	mu     sync.Mutex
	script [][]DistPort
	next   int
}

func (f *fakeDist) list() []DistPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return nil
	}
	i := min(f.next, len(f.script)-1)
	f.next++
	return append([]DistPort(nil), f.script[i]...)
}

// play makes the service read each step once, in order, then the last step again, and returns
// once the check that read the last step a second time has finished. The checks run one after
// another on the service's goroutine, so that is when the next check reads: the one read
// before it has only begun its check when the read returns, and its alarm may not be raised
// yet.
func (f *fakeDist) play(t *testing.T, steps ...[]DistPort) {
	t.Helper()
	f.mu.Lock()
	f.script, f.next = steps, 0
	f.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		done := f.next > len(steps)+1
		f.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not read DistPorts")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func activeNames(s *Service) []string {
	active, _ := s.Alarms()
	var out []string
	for _, a := range active {
		out = append(out, a.Name)
	}
	return out
}

// TestBusyDistPortAlarm: a route to a peer whose pending output stays above the limit at two
// checks raises busy_dist_port and publishes .../sysmon/busy_dist_port naming the peer; a
// route above the limit at one check only does not; once the backlog drains, it clears.
func TestBusyDistPortAlarm(t *testing.T) {
	n, addr := startNode(t)
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/sysmon/busy_dist_port")
	src := &fakeDist{}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := startService(t, n, Options{Check: 20 * time.Millisecond, DistPorts: src.list, DistBusyLimit: 1000, AlarmSizeLimit: 10})

	b := func(id uint64, pending int64) []DistPort {
		return []DistPort{{Node: "b@127.0.0.1", ID: id, Addr: "127.0.0.1:4370", Pending: pending, Since: since}}
	}
	// Above the limit at one check, then below: a burst, not a busy port.
	src.play(t, b(1, 5000), b(1, 10))
	// A new connection (another id) above the limit once is not the old one still busy;
	// at the limit is not above it.
	src.play(t, b(1, 5000), b(2, 5000), b(2, 1000))
	if names := activeNames(s); len(names) != 0 {
		t.Fatalf("alarms %v with no route above the limit for a whole check", names)
	}

	src.play(t, []DistPort{{Node: "c@127.0.0.1", ID: 7, Addr: "127.0.0.1:4371", Pending: 1500, Since: since},
		{Node: "b@127.0.0.1", ID: 1, Addr: "127.0.0.1:4370", Pending: 999, Since: since}})
	active, _ := s.Alarms()
	if len(active) != 1 || active[0].Name != AlarmBusyDistPort {
		t.Fatalf("active alarms %+v, want busy_dist_port", active)
	}
	if nodes, _ := active[0].Details["nodes"].([]string); len(nodes) != 1 || nodes[0] != "c@127.0.0.1" {
		t.Fatalf("alarm details %+v", active[0].Details)
	}
	p := in.next(t, "sysmon/busy_dist_port", func(tp string) bool { return strings.HasSuffix(tp, "/sysmon/busy_dist_port") })
	want := "busy_dist_port warning: node = c@127.0.0.1, peer = 127.0.0.1:4371, pending = 1500 bytes, limit = 1000 bytes, connected since 2026-01-02T03:04:05Z"
	if string(p.Payload) != want {
		t.Fatalf("payload %q, want %q", p.Payload, want)
	}

	src.play(t, []DistPort{{Node: "c@127.0.0.1", ID: 7, Addr: "127.0.0.1:4371", Pending: 0, Since: since}})
	if names := activeNames(s); len(names) != 0 {
		t.Fatalf("alarms %v after the backlog drained", names)
	}
	_, cleared := s.Alarms()
	if len(cleared) != 1 || cleared[0].Name != AlarmBusyDistPort {
		t.Fatalf("cleared alarms %+v", cleared)
	}
}
