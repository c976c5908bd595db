package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// rpcTLSEnv writes a node certificate (SAN 127.0.0.1, for both sides of a link) issued by ca
// into dir and returns the environment that turns cluster.ssl on with it, trusting ca.
func rpcTLSEnv(t *testing.T, dir, name string, ca *certgen.Pair) []string {
	t.Helper()
	p, err := ca.Issue(certgen.Options{CommonName: name, Peer: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, cacert := filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem"), filepath.Join(dir, name+"-ca.pem")
	if err := p.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cacert, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"EMQX_CLUSTER__SSL=on", "EMQX_CLUSTER__SSL__CERTFILE=" + cert, "EMQX_CLUSTER__SSL__KEYFILE=" + key,
		"EMQX_CLUSTER__SSL__CACERTFILE=" + cacert, "EMQX_CLUSTER__SSL__VERIFY=verify_peer", "EMQX_CLUSTER__SSL__FAIL_IF_NO_PEER_CERT=true"}
}

// TestRPCBridgeTLS: with cluster.ssl on, the remote's RPC listener speaks only TLS (its
// greeting requires it) and refuses a bridge without TLS; a bridge whose node has cluster.ssl
// on with a certificate of the same CA connects over TLS and forwards, in order.
func TestRPCBridgeTLS(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	ca, err := certgen.NewCA("rpc test CA")
	if err != nil {
		t.Fatal(err)
	}
	remote := newRPCNode(t, "emqx2", freePort(t), nil)
	remote.env = append(remote.env, rpcTLSEnv(t, remote.work, "remote", ca)...)
	rnode := startNode(t, emqx, remote.work, remote.env, remote.port)
	remote.waitRPC(t)
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(remote.rpcPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	info, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("the RPC listener's greeting does not require TLS: %q %v", info, err)
	}
	got := make(chan string, 1000)
	sub := pahoClient(t, remote.port, "remote-sub", "", true, got)
	if tok := sub.Subscribe("#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	addr := remote.name + ":" + strconv.Itoa(remote.rpcPort)

	// Without TLS: never connected.
	plainWork := t.TempDir()
	plainEnv, plainPort := rpcBridgeEnv(t, plainWork, addr, "auto")
	plain := startNode(t, emqx, plainWork, plainEnv, plainPort)
	time.Sleep(1500 * time.Millisecond)
	if out := ctlOut(t, ctl, plainWork, plainEnv, 0, "bridges", "list"); strings.HasPrefix(out, "name: aws     status: Running\n") {
		t.Fatalf("a bridge without TLS connected to a TLS-only RPC listener: %q", out)
	}
	plain.kill(t, syscall.SIGTERM)

	work := t.TempDir()
	env, port := rpcBridgeEnv(t, work, addr, "auto")
	env = append(env, rpcTLSEnv(t, work, "local", ca)...)
	local := startNode(t, emqx, work, env, port)
	logs := func() string { return "local:\n" + local.log() + "\nremote:\n" + rnode.log() }
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(ctlOut(t, ctl, work, env, 0, "bridges", "list"), "name: aws     status: Running\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the RPC bridge with TLS did not connect\n%s", logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pub := pahoClient(t, port, "pub", "", true, nil)
	publishN(t, pub, "sensor1/tls", 1, 20)
	orderedReceiver(t, got, "bridge/aws/emqx@127.0.0.1/sensor1/tls", 20, logs)
}
