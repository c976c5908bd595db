package cluster_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// tlsNodeEnv writes node i's certificate (SAN 127.0.0.<i>, issued by ca) and returns the
// environment that turns TLS between nodes on with it, trusting trusted.
func tlsNodeEnv(t *testing.T, dir string, i int, ca, trusted *certgen.Pair) []string {
	t.Helper()
	p, err := ca.Issue(certgen.Options{CommonName: fmt.Sprintf("emqx%d", i), Peer: true, IPs: []net.IP{net.IPv4(127, 0, 0, byte(i))}})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, cacert := filepath.Join(dir, fmt.Sprintf("node%d-cert.pem", i)), filepath.Join(dir, fmt.Sprintf("node%d-key.pem", i)), filepath.Join(dir, fmt.Sprintf("node%d-ca.pem", i))
	if err := p.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cacert, trusted.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"EMQX_CLUSTER__SSL=on", "EMQX_CLUSTER__SSL__CERTFILE=" + cert, "EMQX_CLUSTER__SSL__KEYFILE=" + key, "EMQX_CLUSTER__SSL__CACERTFILE=" + cacert}
}

// routeInfo dials node i's route listener over TLS as node from (its files in dir) and
// returns the INFO line the listener sends once the handshake is done.
func routeInfo(t *testing.T, dir string, i, from int) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, fmt.Sprintf("node%d-cert.pem", from)), filepath.Join(dir, fmt.Sprintf("node%d-key.pem", from)))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d-ca.pem", from)))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i), strconv.Itoa(routePort)),
		&tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, ServerName: fmt.Sprintf("127.0.0.%d", i)})
	if err != nil {
		t.Fatalf("TLS to the route listener of node %d: %v", i, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("route listener of node %d: %v", i, err)
	}
	return line
}

// logContains waits up to d for the node's log files to contain s.
func (n *node) logContains(t *testing.T, s string, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		files, _ := filepath.Glob(filepath.Join(n.home, "log", "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), s) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTLSBetweenNodes: nodes 21, 22 and 23 with cluster.ssl = on (mutual TLS, one CA) form a
// cluster with `cluster join` and carry messages at every QoS; their route listeners require
// TLS. Node 24, whose certificate is of another CA (though it trusts the cluster's CA), is
// refused: its join fails, node 21 logs why, and the cluster stays three nodes.
func TestTLSBetweenNodes(t *testing.T) {
	dir := t.TempDir()
	ca, err := certgen.NewCA("cluster CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := certgen.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	ns := []*node{startNode(t, 21, tlsNodeEnv(t, dir, 21, ca, ca)...), startNode(t, 22, tlsNodeEnv(t, dir, 22, ca, ca)...), startNode(t, 23, tlsNodeEnv(t, dir, 23, ca, ca)...)}
	t.Cleanup(func() {
		for _, n := range ns {
			n.stop()
		}
	})
	// The route listener speaks TLS first: a plain connection gets nothing, a TLS one with a
	// certificate of the cluster's CA gets the route INFO, which says TLS is required.
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.21", strconv.Itoa(routePort))); err != nil {
		t.Fatal(err)
	} else {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, _ := c.Read(make([]byte, 64)); n != 0 {
			t.Fatal("the route listener sent plaintext before a TLS handshake")
		}
		c.Close()
	}
	if info := routeInfo(t, dir, 21, 22); !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("route INFO over TLS: %q", info)
	}
	for _, n := range ns[1:] {
		if out, code := n.ctl(t, "cluster", "join", ns[0].name); code != 0 {
			t.Fatalf("join over TLS: %d %q", code, out)
		}
	}
	for _, n := range ns {
		n.waitStatus(t, status(ns, nil), 5*time.Second)
	}
	pub := ns[0].connect(t, "tls-pub", nil)
	for qos := byte(0); qos <= 2; qos++ {
		var rs []*received
		for _, n := range ns[1:] {
			r := newReceived()
			c := n.connect(t, fmt.Sprintf("tls-sub%d-%d", qos, n.i), r)
			subscribe(t, c, fmt.Sprintf("tls%d/#", qos), qos)
			awaitRoute(t, pub, fmt.Sprintf("tls%d/probe", qos), r)
			rs = append(rs, r)
		}
		for k := range 10 {
			publish(t, pub, &paho.Publish{Topic: fmt.Sprintf("tls%d/m", qos), QoS: qos, Payload: []byte(fmt.Sprint(k))})
		}
		for i, r := range rs {
			for k := range 10 {
				if p := r.next(t); string(p.Payload) != fmt.Sprint(k) || p.QoS != qos {
					t.Fatalf("node %d, QoS %d, message %d: got %q at QoS %d", i+22, qos, k, p.Payload, p.QoS)
				}
			}
		}
	}

	rogue := startNode(t, 24, tlsNodeEnv(t, dir, 24, other, ca)...)
	t.Cleanup(rogue.stop)
	out, code := rogue.ctl(t, "cluster", "join", ns[0].name)
	if want := "Failed to join the cluster: {node_down,'" + ns[0].name + "'}\n"; code == 0 || out != want {
		t.Fatalf("join with a certificate of another CA: %d %q, want %q", code, out, want)
	}
	if !ns[0].logContains(t, "certificate signed by unknown authority", 5*time.Second) {
		t.Fatal("node 21 did not log why it refused node 24")
	}
	for _, n := range ns {
		n.waitStatus(t, status(ns, nil), time.Second)
	}
	rogue.waitStatus(t, status([]*node{rogue}, nil), time.Second)
}
