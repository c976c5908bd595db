package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/tools/freeport"
)

// The tests run real bin/emqx processes, built once in TestMain, on loopback: node i is
// emqx<i>@127.0.0.<i> with its route listener on 127.0.0.<i> and one route port shared by
// all (EMQX's convention: a node is reached at the host of its name), its MQTT listener on
// a free port of 127.0.0.1, and its files in a temporary directory.

var (
	binDir    string
	routePort int
	// rpcPort is every node's rpc.tcp_server_port: free on 127.0.0.1-40 (the default, 5369,
	// would collide with another test process's nodes).
	rpcPort int
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "emqx-cluster-test")
	if err != nil {
		panic(err)
	}
	binDir = d
	args := []string{"build", "-o", d}
	// EMQX_CLUSTER_TEST_RACE=1 builds the nodes with the race detector and fails on a race
	// in their logs (about three times slower: not the default).
	if os.Getenv("EMQX_CLUSTER_TEST_RACE") != "" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../../../cmd/emqx", "../../../cmd/emqx_ctl")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build the binaries:", err)
		os.Exit(1)
	}
	routePort = sharedFreePort()
	for rpcPort = sharedFreePort(); rpcPort == routePort; rpcPort = sharedFreePort() {
	}
	code := m.Run()
	if races := stopAll(); races != "" {
		fmt.Fprintln(os.Stderr, races)
		code = 1
	}
	os.RemoveAll(d)
	os.Exit(code)
}

// sharedFreePort finds a port free on 127.0.0.1 to 127.0.0.40.
func sharedFreePort() int {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for i := 2; i <= 40 && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0."+strconv.Itoa(i), strconv.Itoa(port)))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	panic("no port free on 127.0.0.1-40")
}

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t testing.TB) int {
	return freeport.Must(t)
}

type node struct {
	i    int
	name string
	home string
	env  []string
	mqtt string // host:port
	api  string
	cmd  *exec.Cmd
	done chan struct{}
	wrap []string // command line the binary runs under (ip netns exec …), if any
}

var (
	allMu sync.Mutex
	all   []*node
)

// stopAll stops every node and returns the data races their logs report (race builds,
// EMQX_CLUSTER_TEST_RACE).
func stopAll() (races string) {
	allMu.Lock()
	defer allMu.Unlock()
	for _, n := range all {
		n.stop()
		if b, err := os.ReadFile(filepath.Join(n.home, "stdout.log")); err == nil && strings.Contains(string(b), "DATA RACE") {
			races += fmt.Sprintf("node %s reported a data race:\n%s\n", n.name, b)
		}
	}
	all = nil
	return races
}

// startNode starts node i and waits until it serves.
func startNode(t testing.TB, i int, extra ...string) *node {
	home, err := os.MkdirTemp(binDir, "node")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{i: i, name: fmt.Sprintf("emqx%d@127.0.0.%d", i, i), home: home,
		mqtt: "127.0.0.1:" + strconv.Itoa(freePort(t)), api: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	n.env = append(os.Environ(),
		"EMQX_NODE__NAME="+n.name,
		"EMQX_NODE__HOME="+home,
		"EMQX_NODE__DATA_DIR="+filepath.Join(home, "data"),
		"EMQX_LOG__DIR="+filepath.Join(home, "log"),
		"EMQX_LOG__TO=file",
		"EMQX_LOG__LEVEL=info",
		"EMQX_LISTENER__TCP__EXTERNAL="+n.mqtt,
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_MANAGEMENT__LISTENER__HTTP="+n.api,
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_CLUSTER__LISTEN="+fmt.Sprintf("127.0.0.%d:%d", i, routePort),
		"EMQX_RPC__TCP_SERVER_PORT="+strconv.Itoa(rpcPort),
		"EMQX_BROKER__SYS_INTERVAL=1s",
	)
	n.env = append(n.env, extra...)
	n.start(t)
	allMu.Lock()
	all = append(all, n)
	allMu.Unlock()
	return n
}

func (n *node) start(t testing.TB) {
	args := append(append([]string(nil), n.wrap...), filepath.Join(binDir, "emqx"), "foreground")
	n.cmd = exec.Command(args[0], args[1:]...)
	n.cmd.Dir, n.cmd.Env = n.home, n.env
	out, err := os.OpenFile(filepath.Join(n.home, "stdout.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); out.Close(); close(n.done) }()
	// The pid file is written once every service runs.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(n.home, "data", "emqx.pid")); err == nil {
			return
		}
		select {
		case <-n.done:
			b, _ := os.ReadFile(filepath.Join(n.home, "stdout.log"))
			t.Fatalf("node %s exited at start: %s", n.name, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not started within 20s", n.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the node gracefully (SIGTERM), or kills it after 10s.
func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// kill9 kills the node at once.
func (n *node) kill9() {
	n.cmd.Process.Kill()
	<-n.done
}

// ctl runs emqx_ctl against the node.
func (n *node) ctl(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "emqx_ctl"), args...)
	cmd.Dir, cmd.Env = n.home, n.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("emqx_ctl %v: %v", args, err)
	}
	return string(out), code
}

// status is the node's `cluster status` line.
func status(running []*node, stopped []*node) string {
	names := func(ns []*node) string {
		q := make([]string, len(ns))
		for i, n := range ns {
			q[i] = "'" + n.name + "'"
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	s := "Cluster status: [{running_nodes," + names(running) + "}"
	if len(stopped) > 0 {
		s += ",{stopped_nodes," + names(stopped) + "}"
	}
	return s + "]\n"
}

// waitStatus waits until the node's `cluster status` is want.
func (n *node) waitStatus(t testing.TB, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, _ := n.ctl(t, "cluster", "status")
		if out == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: cluster status %q, want %q", n.name, out, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// received collects a paho client's messages.
type received struct{ ch chan *paho.Publish }

func newReceived() *received { return &received{ch: make(chan *paho.Publish, 10000)} }

func (r *received) handler(pr paho.PublishReceived) (bool, error) {
	r.ch <- pr.Packet
	return true, nil
}

// next waits for the next message that is not a probe (awaitRoute).
func (r *received) next(t testing.TB) *paho.Publish {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-r.ch:
			if string(p.Payload) != "probe" {
				return p
			}
		case <-timeout:
			t.Fatal("no message received within 5s")
			return nil
		}
	}
}

// none requires that no message but probes arrives within d.
func (r *received) none(t testing.TB, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case p := <-r.ch:
			if string(p.Payload) != "probe" {
				t.Fatalf("unexpected message on %q: %q", p.Topic, p.Payload)
			}
		case <-timeout:
			return
		}
	}
}

// connect connects an MQTT 5 client to the node.
func (n *node) connect(t testing.TB, clientID string, r *received) *paho.Client {
	t.Helper()
	conn, err := net.Dial("tcp", n.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("connect %q to %s: %v", clientID, n.name, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func subscribe(t testing.TB, c *paho.Client, filter string, qos byte) {
	t.Helper()
	sa, err := c.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %q: %v %v", filter, sa, err)
	}
}

func publish(t testing.TB, c *paho.Client, p *paho.Publish) {
	t.Helper()
	resp, err := c.Publish(ctx5(t), p)
	if err != nil {
		t.Fatalf("publish %q: %v", p.Topic, err)
	}
	if p.QoS > 0 && resp.ReasonCode >= 0x80 {
		t.Fatalf("publish %q: reason %#x", p.Topic, resp.ReasonCode)
	}
}

// awaitRoute publishes probes on topic from pub until r receives one: the subscription's
// filter has reached the publisher's node. Probes that arrive late are drained.
func awaitRoute(t testing.TB, pub *paho.Client, topic string, r *received) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		publish(t, pub, &paho.Publish{Topic: topic, QoS: 0, Payload: []byte("probe")})
		select {
		case p := <-r.ch:
			if p.Topic != topic {
				t.Fatalf("unexpected message on %q while probing %q", p.Topic, topic)
			}
			drain(r, topic, 300*time.Millisecond)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route to %q within 10s", topic)
		}
	}
}

// drain discards the probes on topic arriving within d.
func drain(r *received, topic string, d time.Duration) {
	end := time.After(d)
	for {
		select {
		case p := <-r.ch:
			if p.Topic != topic {
				r.ch <- p // not a probe: keep it (order across topics is not checked)
				return
			}
		case <-end:
			return
		}
	}
}
