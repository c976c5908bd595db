package bridge

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestCommands runs every `bridges` command of the guide with its reply, and checks that the
// run-time changes survive a restart of the bridges.
func TestCommands(t *testing.T) {
	m := startMosquitto(t, "")
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	state := filepath.Join(t.TempDir(), "emqx_bridge_mqtt.json")
	cfg := baseConfig(m.addr(), codec.V311)
	cfg.Name = "emqx"
	cfg.AutoStart = false
	cfg.Forwards = []string{"topic1/#", "topic2/#"}
	cfg.Subscriptions = []Subscription{{"cmd/topic1", 1}, {"cmd/topic2", 1}}
	set := openSet(t, local, cfg, state)

	f := func(want string, args ...string) {
		t.Helper()
		out, _ := set.Command(args)
		if out != want {
			t.Fatalf("bridges %s:\n got %q\nwant %q", strings.Join(args, " "), out, want)
		}
	}
	prefix := func(want string, args ...string) {
		t.Helper()
		out, _ := set.Command(args)
		if !strings.HasPrefix(out, want) {
			t.Fatalf("bridges %s:\n got %q\nwant it to start with %q", strings.Join(args, " "), out, want)
		}
	}
	prefix("name: emqx     status: Stopped\n", "list")
	f("Start bridge successfully.\n", "start", "emqx")
	f("Bridge already started.\n", "start", "emqx")
	prefix("name: emqx     status: Running\n", "list")
	f("Stop bridge successfully.\n", "stop", "emqx")
	f("Stop bridge failed.\n", "stop", "emqx")
	f("Start bridge failed.\n", "start", "nosuch")
	f("topic:   topic1/#\ntopic:   topic2/#\n", "forwards", "emqx")
	f("Add-forward topic successfully.\n", "add-forward", "emqx", "topic3/#")
	f("Add-forward topic successfully.\n", "add-forwards", "emqx", "topic4/#") // the guide's spelling
	f("Del-forward topic successfully.\n", "del-forwards", "emqx", "topic4/#")
	prefix("Add-forward failed reason: ", "add-forward", "emqx", "bad/#/x")
	f("topic:   topic1/#\ntopic:   topic2/#\ntopic:   topic3/#\n", "forwards", "emqx")
	f("topic: cmd/topic1, qos: 1\ntopic: cmd/topic2, qos: 1\n", "subscriptions", "emqx")
	f("Add-subscription topic successfully.\n", "add-subscription", "emqx", "cmd/topic3", "1")
	f("Del-subscription topic successfully.\n", "del-subscription", "emqx", "cmd/topic1")
	prefix("Del-subscription failed reason: ", "del-subscription", "emqx", "cmd/none")
	prefix("Add-subscription failed reason: ", "add-subscription", "emqx", "cmd/x", "3")
	f("topic: cmd/topic2, qos: 1\ntopic: cmd/topic3, qos: 1\n", "subscriptions", "emqx")
	prefix("bridges list ", "bogus")

	// The added forward acts: a message on topic3/ reaches the remote once started.
	remoteSub := connectClient(t, m.addr(), "remote-sub")
	remoteSub.subscribe(t, "topic3/#", 1)
	f("Start bridge successfully.\n", "start", "emqx")
	pub := connectClient(t, localAddr, "pub")
	pub.publish(t, "topic3/a", 1, false, "added at run time")
	remoteSub.expect(t, "topic3/a", "added at run time")
	// The added subscription acts: cmd/topic3 at the remote comes in.
	localSub := connectClient(t, localAddr, "local-sub")
	localSub.subscribe(t, "cmd/#", 1)
	remotePub := connectClient(t, m.addr(), "remote-pub")
	time.Sleep(100 * time.Millisecond)
	remotePub.publish(t, "cmd/topic3", 1, false, "go")
	localSub.expect(t, "cmd/topic3", "go")

	// A restart keeps the run-time changes.
	set.Close()
	set = openSet(t, local, cfg, state)
	f("topic:   topic1/#\ntopic:   topic2/#\ntopic:   topic3/#\n", "forwards", "emqx")
	f("topic: cmd/topic2, qos: 1\ntopic: cmd/topic3, qos: 1\n", "subscriptions", "emqx")
}

// TestBacklogAlarm: the alarm is raised while the oldest unsent message is older than the
// threshold, and cleared once the remote took the backlog.
func TestBacklogAlarm(t *testing.T) {
	m := startMosquitto(t, "")
	m.stop()
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	cfg := baseConfig(m.addr(), codec.V311)
	cfg.Forwards = []string{"data/#"}
	cfg.BacklogAlarm = 500 * time.Millisecond
	alarms := &recordAlarms{raised: map[string]string{}}
	set, err := Open(Options{Node: local, Alarms: alarms}, []Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	pub := connectClient(t, localAddr, "pub")
	pub.publish(t, "data/1", 1, false, "waiting")
	waitFor(t, "the backlog alarm", func() bool { return alarms.get("bridge_backlog/aws") != "" })
	if msg := alarms.get("bridge_backlog/aws"); !strings.Contains(msg, "bridge aws: oldest unsent message waited") {
		t.Fatalf("alarm message %q", msg)
	}
	m.start()
	waitFor(t, "the alarm to clear", func() bool { return alarms.get("bridge_backlog/aws") == "" })
}

type recordAlarms struct {
	mu     sync.Mutex
	raised map[string]string
}

func (a *recordAlarms) Raise(name, message string, _ map[string]any) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.raised[name] = message
	return true
}

func (a *recordAlarms) Clear(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.raised, name)
	return true
}

func (a *recordAlarms) get(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raised[name]
}

// TestStartStopSurvivesRestart: `bridges stop` keeps an auto-started bridge stopped across a
// restart of the bridges, and `bridges start` starts a manual one again at the next start.
func TestStartStopSurvivesRestart(t *testing.T) {
	m := startMosquitto(t, "")
	local, _, _ := startNode(t, "edge@127.0.0.1")
	state := filepath.Join(t.TempDir(), "emqx_bridge_mqtt.json")
	cfg := baseConfig(m.addr(), codec.V311)
	cfg.Name = "emqx"
	cfg.AutoStart = true
	status := func(set *Set) string { return set.Bridge("emqx").State().String() }

	set := openSet(t, local, cfg, state)
	waitFor(t, "the auto-started bridge to connect", func() bool { return status(set) == "connected" })
	if out, _ := set.Command([]string{"stop", "emqx"}); out != "Stop bridge successfully.\n" {
		t.Fatalf("bridges stop emqx: %q", out)
	}
	set.Close()
	set = openSet(t, local, cfg, state)
	time.Sleep(500 * time.Millisecond) // an auto start would have connected by now
	if out, _ := set.Command([]string{"list"}); !strings.HasPrefix(out, "name: emqx     status: Stopped\n") {
		t.Fatalf("after bridges stop and a restart: %q", out)
	}
	if out, _ := set.Command([]string{"start", "emqx"}); out != "Start bridge successfully.\n" {
		t.Fatalf("bridges start emqx: %q", out)
	}
	set.Close()
	cfg.AutoStart = false // start_type = manual: the start command still holds
	set = openSet(t, local, cfg, state)
	waitFor(t, "the started bridge to connect after the restart", func() bool { return status(set) == "connected" })
	set.Close()
}
