package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// dnsServer is a dnsmasq on 127.0.0.1 that answers A records from a hosts file (and nothing
// else: no upstream, no /etc/hosts), re-read on SIGHUP.
type dnsServer struct {
	addr  string
	hosts string
	cmd   *exec.Cmd
}

// startDNS starts dnsmasq (tools/ci/deps.sh installs dnsmasq-base); without it the test
// is skipped, or fails in CI.
func startDNS(t *testing.T, hosts string) *dnsServer {
	t.Helper()
	bin := "/usr/sbin/dnsmasq"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dnsmasq missing (%v): tools/ci/deps.sh installs dnsmasq-base", err)
		}
		t.Skipf("dnsmasq missing (%v): run tools/ci/deps.sh", err)
	}
	port := 0
	for port == 0 { // free for TCP and UDP: dnsmasq listens on both
		p := freePort(t)
		if pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			pc.Close()
			port = p
		}
	}
	dir, err := os.MkdirTemp("", "dnsmasq") // not under t.TempDir (0700): dnsmasq reads it as nobody
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{addr: "127.0.0.1:" + strconv.Itoa(port), hosts: filepath.Join(dir, "hosts")}
	if err := os.WriteFile(d.hosts, []byte(hosts+readyRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=",
		"--listen-address=127.0.0.1", "--bind-interfaces", "--port="+strconv.Itoa(port), "--addn-hosts="+d.hosts,
		"--local-ttl=0", "--log-facility=-")
	out, _ := os.Create(filepath.Join(t.TempDir(), "dnsmasq.out"))
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait(); out.Close() })
	// Ready when it answers.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, d.addr)
	}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := r.LookupHost(ctx, "ready.test")
		cancel()
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("dnsmasq does not answer (%v): %s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyRecord is in every hosts file: the server answers it once it runs.
const readyRecord = "127.0.0.1 ready.test\n"

// setHosts replaces the records and has dnsmasq read them again.
func (d *dnsServer) setHosts(t *testing.T, hosts string) {
	t.Helper()
	if err := os.WriteFile(d.hosts, []byte(hosts+readyRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// TestDNSDiscovery: with cluster.discovery = dns, nodes emqx@127.0.0.31 and .32 find each
// other through the A records of emqx.test at start and form a cluster with no join;
// node .33, alone under its own name at first, is found by the others' periodic resolution
// once emqx.test lists it, and messages cross the three.
func TestDNSDiscovery(t *testing.T) {
	dns := startDNS(t, "127.0.0.31 emqx.test\n127.0.0.32 emqx.test\n127.0.0.33 solo.test\n")
	env := func(name string) []string {
		return []string{"EMQX_CLUSTER__DISCOVERY=dns", "EMQX_CLUSTER__DNS__NAME=" + name, "EMQX_CLUSTER__DNS__APP=emqx",
			"EMQX_CLUSTER__DNS__SERVER=" + dns.addr, "EMQX_CLUSTER__DNS__REFRESH=1s"}
	}
	start := func(i int, dnsName string) *node {
		name := fmt.Sprintf("emqx@127.0.0.%d", i)
		n := startNode(t, i, append(env(dnsName), "EMQX_NODE__NAME="+name)...)
		n.name = name
		t.Cleanup(n.stop)
		return n
	}
	n31, n32, n33 := start(31, "emqx.test"), start(32, "emqx.test"), start(33, "solo.test")
	two := status([]*node{n31, n32}, nil)
	n31.waitStatus(t, two, 10*time.Second)
	n32.waitStatus(t, two, 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // more than a refresh: node 33 is not listed, nobody finds it
	n33.waitStatus(t, status([]*node{n33}, nil), time.Second)
	n31.waitStatus(t, two, time.Second)

	dns.setHosts(t, "127.0.0.31 emqx.test\n127.0.0.32 emqx.test\n127.0.0.33 emqx.test\n127.0.0.33 solo.test\n")
	three := status([]*node{n31, n32, n33}, nil)
	for _, n := range []*node{n31, n32, n33} {
		n.waitStatus(t, three, 10*time.Second)
	}
	r := newReceived()
	sub := n33.connect(t, "dns-sub", r)
	subscribe(t, sub, "dns/#", 1)
	pub := n31.connect(t, "dns-pub", nil)
	awaitRoute(t, pub, "dns/probe", r)
	publish(t, pub, &paho.Publish{Topic: "dns/x", QoS: 1, Payload: []byte("found")})
	if p := r.next(t); string(p.Payload) != "found" {
		t.Fatalf("got %q", p.Payload)
	}
	if !n31.logContains(t, "dns discovery found nodes", time.Second) {
		t.Fatal("node 31 did not log what dns discovery found")
	}
}
