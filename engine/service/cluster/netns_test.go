package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/sys/unix"
)

// netLab is a small network of namespaces created by a test: one namespace per node, each
// with a veth whose other end is on a bridge in a namespace of its own, addresses
// 10.200.0.<i>/24 on the nodes' ends. Nothing of the host's network is touched: every
// interface is created inside the lab's namespaces, and deleting them (Cleanup, also on
// failure) removes everything.
type netLab struct {
	prefix string // of the namespaces' names, unique per test process
	bridge string // the bridge's namespace
	made   []string
}

// needNetns skips the test (fails it in CI) when network namespaces cannot be made here.
func needNetns(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("the partition test needs network namespaces: %s", why)
	}
	t.Skipf("the partition test needs network namespaces: %s", why)
}

func newNetLab(t *testing.T, nodes int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		needNetns(t, "not root (ip netns add needs CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		needNetns(t, "no ip command (iproute2; tools/ci/deps.sh installs it)")
	}
	lab := &netLab{prefix: fmt.Sprintf("emqgo%d", os.Getpid())}
	lab.bridge = lab.prefix + "-br"
	t.Cleanup(lab.destroy)
	if out, err := exec.Command("ip", "netns", "add", lab.bridge).CombinedOutput(); err != nil {
		needNetns(t, fmt.Sprintf("ip netns add: %v: %s", err, out))
	}
	lab.made = append(lab.made, lab.bridge)
	lab.ip(t, "-n", lab.bridge, "link", "set", "lo", "up")
	lab.ip(t, "-n", lab.bridge, "link", "add", "br0", "type", "bridge")
	lab.ip(t, "-n", lab.bridge, "link", "set", "br0", "up")
	for i := 1; i <= nodes; i++ {
		ns := lab.ns(i)
		lab.ip(t, "netns", "add", ns)
		lab.made = append(lab.made, ns)
		lab.ip(t, "-n", ns, "link", "set", "lo", "up")
		lab.ip(t, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", lab.port(i), "netns", lab.bridge)
		lab.ip(t, "-n", ns, "addr", "add", fmt.Sprintf("10.200.0.%d/24", i), "dev", "eth0")
		lab.ip(t, "-n", ns, "link", "set", "eth0", "up")
		lab.ip(t, "-n", lab.bridge, "link", "set", lab.port(i), "master", "br0")
		lab.ip(t, "-n", lab.bridge, "link", "set", lab.port(i), "up")
	}
	return lab
}

func (l *netLab) ns(i int) string   { return fmt.Sprintf("%s-%d", l.prefix, i) }
func (l *netLab) port(i int) string { return fmt.Sprintf("p%d", i) }

func (l *netLab) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cut takes node i's link to the bridge down (its namespace keeps its address and its
// loopback: the node and its local clients go on); heal brings it up again.
func (l *netLab) cut(t *testing.T, i int)  { l.ip(t, "-n", l.bridge, "link", "set", l.port(i), "down") }
func (l *netLab) heal(t *testing.T, i int) { l.ip(t, "-n", l.bridge, "link", "set", l.port(i), "up") }

func (l *netLab) destroy() {
	for _, ns := range l.made {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// dialIn connects to addr from inside namespace ns: a locked thread enters the namespace,
// makes the socket there (it stays in that namespace) and the thread is then discarded
// rather than returned to the runtime.
func dialIn(ns, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// startNodeIn starts node i of the lab in its namespace, as emqx<i>@10.200.0.<i> with its
// route listener on 10.200.0.<i> and its other listeners on the namespace's loopback; extra
// adds to its environment.
func startNodeIn(t *testing.T, lab *netLab, i int, extra ...string) *node {
	home, err := os.MkdirTemp(binDir, "nsnode")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{i: i, name: fmt.Sprintf("emqx%d@10.200.0.%d", i, i), home: home, mqtt: "127.0.0.1:1883", api: "127.0.0.1:8081",
		wrap: []string{"ip", "netns", "exec", lab.ns(i)}}
	n.env = append(os.Environ(),
		"EMQX_NODE__NAME="+n.name,
		"EMQX_NODE__HOME="+home,
		"EMQX_NODE__DATA_DIR="+filepath.Join(home, "data"),
		"EMQX_LOG__DIR="+filepath.Join(home, "log"),
		"EMQX_LOG__TO=file",
		"EMQX_LOG__LEVEL=info",
		"EMQX_LISTENER__TCP__EXTERNAL="+n.mqtt,
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:11883",
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:8083",
		"EMQX_MANAGEMENT__LISTENER__HTTP="+n.api,
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:18083",
		fmt.Sprintf("EMQX_CLUSTER__LISTEN=10.200.0.%d:6369", i),
	)
	n.env = append(n.env, extra...)
	n.start(t)
	allMu.Lock()
	all = append(all, n)
	allMu.Unlock()
	t.Cleanup(n.stop)
	return n
}

// connectIn connects an MQTT 5 client to node n of the lab from inside its namespace.
func (n *node) connectIn(t *testing.T, lab *netLab, clientID string, r *received) *paho.Client {
	t.Helper()
	conn, err := dialIn(lab.ns(n.i), n.mqtt)
	if err != nil {
		t.Fatalf("connect %q to %s: %v", clientID, n.name, err)
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
