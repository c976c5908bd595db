package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// pahoClient connects a paho MQTT 3.1.1 client with clean session clean; messages it
// receives go to got.
func pahoClient(t *testing.T, port int, id, user string, clean bool, got chan<- string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + strconv.Itoa(port)).SetClientID(id).
		SetUsername(user).SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false)
	if got != nil {
		o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) })
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func recv(t *testing.T, got <-chan string, want string) {
	t.Helper()
	select {
	case m := <-got:
		if m != want {
			t.Fatalf("received %q, want %q", m, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message, want %q", want)
	}
}

// TestCtlManagement runs the management commands against a node with real clients.
func TestCtlManagement(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	env = append(env, "EMQX_LOG__TO=file", "EMQX_LOG__LEVEL=warning")
	foreground(t, emqx, work, env)
	ok := func(want int, args ...string) string {
		t.Helper()
		out, code := run(t, work, env, ctl, args...)
		if code != want {
			t.Fatalf("emqx_ctl %v: exit %d, want %d:\n%s", args, code, want, out)
		}
		return out
	}

	got := make(chan string, 10)
	sub := pahoClient(t, port, "c1", "alice", true, got)
	pub := pahoClient(t, port, "c2", "", false, nil)
	if tok := sub.Subscribe("t/+", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	// clients
	line := regexp.MustCompile(`^Connection\(c1, clean_start=true, username=alice, peername=127\.0\.0\.1:\d+, connected_at=(\d+)\)$`)
	out := ok(0, "clients", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !line.MatchString(lines[0]) || !strings.HasPrefix(lines[1], "Connection(c2, clean_start=false, username=undefined, ") {
		t.Fatalf("clients list:\n%s", out)
	}
	if at, _ := strconv.ParseInt(line.FindStringSubmatch(lines[0])[1], 10, 64); time.Since(time.Unix(at, 0)) > time.Minute {
		t.Fatalf("connected_at %d", at)
	}
	show := regexp.MustCompile(`^Connection\(c1, clean_start=true, username=alice, peername=127\.0\.0\.1:\d+, connected_at=\d+, recv_oct=(\d+), recv_pkt=2, recv_msg=0, send_oct=(\d+), send_pkt=2, send_msg=0\)$`)
	if out := ok(0, "clients", "show", "c1"); !show.MatchString(strings.TrimSpace(out)) {
		t.Fatalf("clients show c1: %q", out) // in: CONNECT, SUBSCRIBE; out: CONNACK, SUBACK
	}
	if out := ok(1, "clients", "show", "nobody"); out != "Not Found.\n" {
		t.Fatalf("clients show nobody: %q", out)
	}

	// broker stats and broker metrics: EMQX 3.2's "~-30s: ~w" lines, sorted by name.
	statLine := regexp.MustCompile(`^([a-z0-9_.]+) *: (\d+)$`)
	for _, cmd := range []string{"stats", "metrics"} {
		out := ok(0, "broker", cmd)
		var names []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			m := statLine.FindStringSubmatch(l)
			if m == nil || l[max(30, len(m[1])):][:2] != ": " {
				t.Fatalf("broker %s: line %q is not EMQX's \"~-30s: ~w\"", cmd, l)
			}
			names = append(names, m[1])
		}
		if !slices.IsSorted(names) || len(names) < 15 {
			t.Fatalf("broker %s: names not sorted or too few:\n%s", cmd, out)
		}
	}
	stats := ok(0, "broker", "stats")
	for _, name := range []string{"connections.count", "connections.max", "retained.count", "routes.count", "routes.max",
		"sessions.count", "sessions.max", "sessions.persistent.count", "sessions.persistent.max", "suboptions.count",
		"suboptions.max", "subscribers.count", "subscribers.max", "subscriptions.count", "subscriptions.max",
		"subscriptions.shared.count", "subscriptions.shared.max", "topics.count", "topics.max"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` +: \d+$`).MatchString(stats) {
			t.Fatalf("broker stats lacks %s:\n%s", name, stats)
		}
	}
	if !strings.HasPrefix(stats, "connections.count             : 2\n") || !strings.Contains(stats, "\nsubscriptions.count           : 1\n") {
		t.Fatalf("broker stats, want 2 connections and 1 subscription:\n%s", stats)
	}

	// sessions, subscriptions, routes, topics
	if out := ok(0, "sessions", "show", "c1"); !regexp.MustCompile(`^Session\(c1, clean_start=true, expiry_interval=0, subscriptions_count=1, max_inflight=\d+, inflight=0, mqueue_len=0, awaiting_rel=0, created_at=\d+\)\n$`).MatchString(out) {
		t.Fatalf("sessions show c1: %q", out)
	}
	if out := ok(0, "sessions", "list", "persistent"); !strings.HasPrefix(out, "Session(c2, clean_start=false, expiry_interval=") || strings.Count(out, "\n") != 1 {
		t.Fatalf("sessions list persistent: %q", out)
	}
	if out := ok(0, "subscriptions", "list"); out != "c1 -> t/+\n" {
		t.Fatalf("subscriptions list: %q", out)
	}
	if out := ok(0, "routes", "list"); out != "t/+ -> emqx@127.0.0.1\n" {
		t.Fatalf("routes list: %q", out)
	}
	if out := ok(0, "topics", "show", "t/+"); out != "t/+ -> emqx@127.0.0.1\n" {
		t.Fatalf("topics show: %q", out)
	}
	if out := ok(0, "routes", "show", "t/+"); out != "t/+ -> emqx@127.0.0.1\n" {
		t.Fatalf("routes show: %q", out)
	}
	if out := ok(0, "topics", "list"); out != "t/+ -> emqx@127.0.0.1\n" {
		t.Fatalf("topics list: %q", out)
	}
	if out := ok(0, "routes", "show", "no/such"); out != "" {
		t.Fatalf("routes show of no route: %q", out)
	}

	// subscriptions add/del act on the client: c1 receives x/1 only while subscribed.
	if out := ok(0, "subscriptions", "add", "c1", "x/1", "1"); out != "ok\n" {
		t.Fatalf("subscriptions add: %q", out)
	}
	if out := ok(0, "subscriptions", "show", "c1"); out != "c1 -> t/+\nc1 -> x/1\n" {
		t.Fatalf("subscriptions show: %q", out)
	}
	pub.Publish("x/1", 1, false, "one").WaitTimeout(5 * time.Second)
	recv(t, got, "x/1 one")
	if out := ok(0, "subscriptions", "del", "c1", "x/1"); out != "ok\n" {
		t.Fatalf("subscriptions del: %q", out)
	}
	pub.Publish("x/1", 1, false, "two").WaitTimeout(5 * time.Second)
	pub.Publish("t/1", 1, false, "fence").WaitTimeout(5 * time.Second)
	recv(t, got, "t/1 fence") // x/1 two would have come first
	if out := ok(1, "subscriptions", "add", "c1", "x/1", "3"); out != "QoS should be 0, 1, 2\n" {
		t.Fatalf("bad qos: %q", out)
	}
	if out := ok(1, "subscriptions", "add", "nobody", "x/1", "0"); out != "Error: Session not found!\n" {
		t.Fatalf("no session: %q", out)
	}

	// retainer (emqx_retainer's CLI): info, topics, clean.
	for _, tp := range []string{"r/1", "r/2"} {
		if tok := pub.Publish(tp, 1, true, "keep"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("retained publish: %v", tok.Error())
		}
	}
	info := ok(0, "retainer", "info")
	m := regexp.MustCompile(`^retained/total: (\d+)\n$`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("retainer info: %q", info)
	}
	topics := ok(0, "retainer", "topics")
	if tl := strings.Split(strings.TrimSuffix(topics, "\n"), "\n"); !slices.Contains(tl, "r/1") || !slices.Contains(tl, "r/2") ||
		!slices.Contains(tl, "$SYS/brokers") || strconv.Itoa(len(tl)) != m[1] {
		t.Fatalf("retainer topics (info says %s):\n%s", m[1], topics)
	}
	if out := ok(0, "retainer", "clean"); out != "Cleaned "+m[1]+" retained messages\n" {
		t.Fatalf("retainer clean: %q", out)
	}
	if out := ok(0, "retainer", "info"); out != "retained/total: 0\n" {
		t.Fatalf("retainer info after clean: %q", out)
	}
	if out := ok(0, "retainer", "topics"); out != "" {
		t.Fatalf("retainer topics after clean: %q", out)
	}
	if out := ok(1, "retainer", "nonsense"); !strings.Contains(out, "retainer clean") {
		t.Fatalf("retainer nonsense: %q", out)
	}

	// kick: the 3.1.1 client is closed; its session (clean) ends.
	if out := ok(0, "clients", "kick", "c1"); out != "ok\n" {
		t.Fatalf("kick: %q", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sub.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if sub.IsConnectionOpen() {
		t.Fatal("c1 still connected after kick")
	}
	if out := ok(0, "clients", "list"); strings.Contains(out, "(c1,") {
		t.Fatalf("c1 listed after kick:\n%s", out)
	}

	// vm, mnesia, cluster
	out = ok(0, "vm")
	for _, want := range []string{"cpu/load1", "memory/total", "memory/heap_inuse", "process/count", "io/max_fds", "io/active_fds", "ports/count"} {
		if !strings.Contains(out, want) {
			t.Fatalf("vm lacks %s:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^ports/count\s+: 1$`).MatchString(out) {
		t.Fatalf("vm ports, want 1 connection (c2):\n%s", out)
	}
	// Each group alone: EMQX's "<group>/<name> : value" lines, only its own.
	for group, want := range map[string]string{"load": "cpu/", "memory": "memory/", "process": "process/", "io": "io/", "ports": "ports/"} {
		out := ok(0, "vm", group)
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if !strings.HasPrefix(l, want) || !strings.Contains(l, ": ") {
				t.Fatalf("vm %s: line %q", group, l)
			}
		}
	}
	if out := ok(1, "vm", "nonsense"); !strings.Contains(out, "vm memory") {
		t.Fatalf("vm nonsense: %q", out)
	}
	if out := ok(0, "mnesia"); !strings.Contains(out, "emqx_ctl data verify") {
		t.Fatalf("mnesia: %q", out)
	}
	if out := ok(0, "cluster", "status"); out != "Cluster status: [{running_nodes,['emqx@127.0.0.1']}]\n" {
		t.Fatalf("cluster status: %q", out)
	}
	// Without cluster.listen the node does not cluster, and says so.
	if out := ok(1, "cluster", "join", "emqx2@127.0.0.1"); out != "Failed to join the cluster: this node does not cluster (set cluster.listen)\n" {
		t.Fatalf("cluster join: %q", out)
	}
	if out := ok(1, "cluster", "leave"); out != "Failed to leave the cluster: node_not_in_cluster\n" {
		t.Fatalf("cluster leave: %q", out)
	}

	// sessions clean-persistent (EMQX 3.x): refused while c2 is connected; once it is offline,
	// its session ends.
	if out := ok(1, "sessions", "clean-persistent", "c2"); out != "Couldn't clean a session with a valid connection.\n" {
		t.Fatalf("clean-persistent of a connected client: %q", out)
	}
	pub.Disconnect(250)
	deadline = time.Now().Add(5 * time.Second)
	for {
		out, code := run(t, work, env, ctl, "sessions", "clean-persistent", "c2")
		if code == 0 && out == "Clean persistent session successfully.\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clean-persistent of the offline c2: exit %d %q", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := ok(1, "sessions", "show", "c2"); out != "Not Found.\n" {
		t.Fatalf("sessions show c2 after clean-persistent: %q", out)
	}
	if out := ok(1, "sessions", "clean-persistent", "c2"); out != "Not Found.\n" {
		t.Fatalf("clean-persistent of no session: %q", out)
	}

	// An unknown command prints the usage list.
	if out := ok(1, "nosuch"); !strings.Contains(out, "clients kick <ClientId>") || !strings.Contains(out, "log primary-level") {
		t.Fatalf("nosuch:\n%s", out)
	}
}

// TestCtlLogLevels changes the running node's log levels and checks the log file follows.
func TestCtlLogLevels(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	env = append(env, "EMQX_LOG__TO=file", "EMQX_LOG__LEVEL=warning", "EMQX_LOG__ERROR__FILE=error.log")
	foreground(t, emqx, work, env)
	ok := func(want int, args ...string) string {
		t.Helper()
		out, code := run(t, work, env, ctl, args...)
		if code != want {
			t.Fatalf("emqx_ctl %v: exit %d, want %d:\n%s", args, code, want, out)
		}
		return out
	}
	mainLog := filepath.Join(work, "log", "emqx.log")
	connectOnce := func(id string) {
		c := pahoClient(t, port, id, "", true, nil)
		c.Disconnect(0)
	}
	logHas := func(file, s string) bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), s)
	}

	if out := ok(0, "log", "primary-level"); out != "warning\n" {
		t.Fatalf("primary-level: %q", out)
	}
	want := fmt.Sprintf("LogHandler(id=default, level=warning, destination=%s, status=started)\nLogHandler(id=error, level=error, destination=%s, status=started)\n",
		mainLog, filepath.Join(work, "log", "error.log"))
	if out := ok(0, "log", "handlers", "list"); out != want {
		t.Fatalf("handlers list:\n%s\nwant:\n%s", out, want)
	}
	connectOnce("quiet")
	// At warning, a connect logs nothing; at info it does.
	if out := ok(0, "log", "set-level", "info"); out != "info\n" {
		t.Fatalf("set-level: %q", out)
	}
	connectOnce("loud")
	deadline := time.Now().Add(5 * time.Second)
	for !logHas(mainLog, `client=loud`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !logHas(mainLog, `client=loud`) || logHas(mainLog, `client=quiet`) {
		b, _ := os.ReadFile(mainLog)
		t.Fatalf("emqx.log after set-level info:\n%s", b)
	}
	// The primary level filters in front of every handler.
	if out := ok(0, "log", "primary-level", "error"); out != "error\n" {
		t.Fatalf("primary-level error: %q", out)
	}
	connectOnce("filtered")
	if out := ok(0, "log", "handlers", "list"); !strings.Contains(out, "id=default, level=info") || !strings.Contains(out, "id=error, level=info") {
		t.Fatalf("handlers after set-level:\n%s", out)
	}
	ok(0, "log", "primary-level", "info")
	connectOnce("again")
	deadline = time.Now().Add(5 * time.Second)
	for !logHas(mainLog, `client=again`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if logHas(mainLog, `client=filtered`) || !logHas(mainLog, `client=again`) {
		b, _ := os.ReadFile(mainLog)
		t.Fatalf("emqx.log around primary-level error:\n%s", b)
	}
	if out := ok(1, "log", "set-level", "loud"); !strings.Contains(out, "bad log level") {
		t.Fatalf("bad level: %q", out)
	}
	if out := ok(0, "log", "handlers", "set-level", "error", "critical"); out != "critical\n" {
		t.Fatalf("handler set-level: %q", out)
	}
	if out := ok(1, "log", "handlers", "set-level", "nosuch", "info"); !strings.Contains(out, "no log handler") {
		t.Fatalf("unknown handler: %q", out)
	}

	// A stopped handler writes nothing, keeps its level, and writes again once started.
	if out := ok(0, "log", "handlers", "stop", "default"); out != "log handler default stopped\n" {
		t.Fatalf("handlers stop: %q", out)
	}
	if out := ok(0, "log", "handlers", "list"); !strings.Contains(out, "id=default, level=info, destination="+mainLog+", status=stopped") {
		t.Fatalf("handlers list after stop:\n%s", out)
	}
	connectOnce("unheard")
	ok(0, "log", "set-level", "info") // a level change does not restart it
	connectOnce("unheard2")
	if out := ok(0, "log", "handlers", "start", "default"); out != "log handler default started\n" {
		t.Fatalf("handlers start: %q", out)
	}
	connectOnce("heard")
	deadline = time.Now().Add(5 * time.Second)
	for !logHas(mainLog, `client=heard`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !logHas(mainLog, `client=heard`) || logHas(mainLog, `client=unheard`) {
		b, _ := os.ReadFile(mainLog)
		t.Fatalf("emqx.log around handlers stop/start:\n%s", b)
	}
	if out := ok(1, "log", "handlers", "stop", "nosuch"); !strings.Contains(out, "[error] failed to stop log handler nosuch") {
		t.Fatalf("stop unknown handler: %q", out)
	}
}
