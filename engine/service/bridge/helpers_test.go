package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/certgen"
	"github.com/emqgo/emqgo/tools/freeport"
)

var (
	certsOnce sync.Once
	certsDir  string
	certsErr  error
)

// certs writes one certificate set for the package's tests (removed by TestMain).
func certs(t *testing.T) string {
	t.Helper()
	certsOnce.Do(func() {
		certsDir, certsErr = os.MkdirTemp("", "bridge-certs-")
		if certsErr != nil {
			return
		}
		var set *certgen.Set
		if set, certsErr = certgen.Generate(); certsErr == nil {
			certsErr = set.WriteDir(certsDir)
		}
		// mosquitto started as root reads them as the mosquitto user.
		os.Chmod(certsDir, 0o755)
		for _, f := range []string{certgen.Files.Key, certgen.Files.ClientKey} {
			os.Chmod(filepath.Join(certsDir, f), 0o644)
		}
	})
	if certsErr != nil {
		t.Fatal(certsErr)
	}
	return certsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if certsDir != "" {
		os.RemoveAll(certsDir)
	}
	os.Exit(code)
}

var startMu sync.Mutex

// startNode starts a node with a TCP and a TLS listener on free loopback ports, stopped when
// the test ends. It returns the node and both addresses.
func startNode(t *testing.T, name string) (n *engine.Node, tcpAddr, tlsAddr string) {
	t.Helper()
	return startNodeZone(t, name, nil)
}

// startNodeZone is startNode with the zone's settings changed by mutate.
func startNodeZone(t *testing.T, name string, mutate func(z *engine.Zone)) (n *engine.Node, tcpAddr, tlsAddr string) {
	t.Helper()
	return startNodeTLS(t, name, mutate, nil)
}

// startNodeTLS is startNodeZone with the ssl listener's settings changed by tlsMutate.
func startNodeTLS(t *testing.T, name string, mutate func(z *engine.Zone), tlsMutate func(l *engine.TLSListener)) (n *engine.Node, tcpAddr, tlsAddr string) {
	t.Helper()
	dir := certs(t)
	zone := engine.DefaultZone()
	if mutate != nil {
		mutate(zone)
	}
	cfg := &engine.Config{
		NodeName: name,
		Listeners: []engine.Listener{
			{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: zone, MaxConnections: 1000},
			{Kind: "ssl", Name: "external", Addr: "127.0.0.1:0", Zone: zone, MaxConnections: 1000, TLS: &engine.TLSListener{
				HandshakeTimeout: 5 * time.Second,
				Options:          transport.TLSOptions{CertFile: filepath.Join(dir, certgen.Files.Cert), KeyFile: filepath.Join(dir, certgen.Files.Key)},
			}},
		},
		AllowAnonymous: true,
		ACL:            acl.Default(),
		ACLNoMatch:     acl.Allow,
		SharedStrategy: "round_robin",
		LoopCount:      2,
		SweepInterval:  50 * time.Millisecond,
	}
	if tlsMutate != nil {
		tlsMutate(cfg.Listeners[1].TLS)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for attempt := 1; ; attempt++ {
		var err error
		if n, err = engine.New(cfg, log); err != nil {
			t.Fatal(err)
		}
		startMu.Lock()
		err = n.Start()
		startMu.Unlock()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	return n, n.Addr("external"), n.TLSAddr("external")
}

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t *testing.T) int {
	return freeport.Must(t)
}

// mosquittoPath finds mosquitto; without it the test skips, except in CI where it fails
// (tools/ci/deps.sh installs it).
func mosquittoPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("mosquitto is not installed (tools/ci/deps.sh installs it)")
	}
	t.Skip("mosquitto is not installed (make test-deps installs it)")
	return ""
}

// mosquitto is a mosquitto broker run by a test.
type mosquitto struct {
	t        *testing.T
	bin, dir string
	port     int // plain listener
	tlsPort  int
	extra    string // more configuration
	cmd      *exec.Cmd
	out      bytes.Buffer // its output, shown when it does not start
}

// startMosquitto starts mosquitto on free loopback ports (plain and TLS), stopped when the
// test ends.
func startMosquitto(t *testing.T, extra string) *mosquitto {
	t.Helper()
	m := &mosquitto{t: t, bin: mosquittoPath(t), dir: t.TempDir(), port: freePort(t), tlsPort: freePort(t), extra: extra}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) addr() string    { return fmt.Sprintf("127.0.0.1:%d", m.port) }
func (m *mosquitto) tlsAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.tlsPort) }

func (m *mosquitto) start() {
	t := m.t
	t.Helper()
	dir := certs(t)
	conf := fmt.Sprintf("per_listener_settings false\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n"+
		"listener %d 127.0.0.1\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n%s\n",
		m.port, m.tlsPort, filepath.Join(dir, certgen.Files.Cert), filepath.Join(dir, certgen.Files.Key), m.extra)
	file := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(m.bin, "-c", file)
	m.cmd.Stdout, m.cmd.Stderr = &m.out, &m.out
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", m.addr())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", m.addr(), err, m.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mosquitto) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// clientTLS trusts the test CA.
func clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(certs(t), certgen.Files.CACert))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// client is an MQTT 3.1.1 client (paho.mqtt.golang) that collects what it receives.
type client struct {
	c  mqtt.Client
	ch chan mqtt.Message
}

func connectClient(t *testing.T, addr, id string) *client {
	t.Helper()
	cl := &client{ch: make(chan mqtt.Message, 100000)}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetOrderMatters(true).SetCleanSession(true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { cl.ch <- m })
	cl.c = mqtt.NewClient(o)
	if tok := cl.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("client %s cannot connect to %s: %v", id, addr, tok.Error())
	}
	t.Cleanup(func() { cl.c.Disconnect(100) })
	return cl
}

func (cl *client) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	if tok := cl.c.Subscribe(filter, qos, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

func (cl *client) publish(t *testing.T, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	if tok := cl.c.Publish(topic, qos, retain, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// expect waits for one message and checks its topic and payload.
func (cl *client) expect(t *testing.T, topic, payload string) mqtt.Message {
	t.Helper()
	select {
	case m := <-cl.ch:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("received %s %q, want %s %q", m.Topic(), m.Payload(), topic, payload)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received, want %s %q", topic, payload)
	}
	return nil
}

// quiet checks that nothing more arrives for a while.
func (cl *client) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-cl.ch:
		t.Fatalf("unexpected message %s %q", m.Topic(), m.Payload())
	case <-time.After(d):
	}
}

// openSet opens a Set of one bridge on n, closed when the test ends.
func openSet(t *testing.T, n *engine.Node, cfg Config, stateFile string) *Set {
	t.Helper()
	s, err := Open(Options{Node: n, StateFile: stateFile, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}, []Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds (10 s at most).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
