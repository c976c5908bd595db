package trace

import (
	"context"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
)

var startMu sync.Mutex

// startNode starts a node on a free loopback port and stops it when the test ends.
func startNode(t *testing.T) (*engine.Node, string) {
	t.Helper()
	return startNodeWith(t, nil)
}

// startNodeWith is startNode with the configuration adjusted by mutate (nil: none) first.
func startNodeWith(t *testing.T, mutate func(*engine.Config)) (*engine.Node, string) {
	t.Helper()
	cfg := &engine.Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: engine.DefaultZone(), MaxConnections: 1000}},
		AllowAnonymous: true,
		SharedStrategy: "round_robin",
		LoopCount:      2,
		SweepInterval:  50 * time.Millisecond,
	}
	if mutate != nil {
		mutate(cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var n *engine.Node
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
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stopping node: %v", err)
		}
	})
	return n, n.Addr("external")
}

// startService starts the service on n, closed when the test ends (before the node).
func startService(t *testing.T, n *engine.Node, o Options) *Service {
	t.Helper()
	s := New(n, o)
	t.Cleanup(s.Close)
	return s
}

// inbox collects what a paho client receives.
type inbox struct{ ch chan *paho.Publish }

func (b *inbox) handler(pr paho.PublishReceived) (bool, error) {
	b.ch <- pr.Packet
	return true, nil
}

func (b *inbox) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-b.ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message received")
		return nil
	}
}

// client connects an MQTT 5 client with cp to addr.
func client(t *testing.T, addr string, cp *paho.Connect) (*paho.Client, *inbox) {
	t.Helper()
	return clientFrom(t, addr, nil, cp)
}

// clientFrom is client dialing from the local address local (nil: any).
func clientFrom(t *testing.T, addr string, local net.Addr, cp *paho.Connect) (*paho.Client, *inbox) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	in := &inbox{ch: make(chan *paho.Publish, 1000)}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){in.handler}})
	cp.KeepAlive = 30
	ca, err := c.Connect(ctx(t), cp)
	if err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %q: %v %v", cp.ClientID, err, ca)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, in
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFile waits until the file contains want and returns its content.
func waitFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in:\n%s", path, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var lineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(debug|info|warning)\] `)

// inOrder checks that every line of content has a timestamp and a level, and that each of
// want is found in a line, in this order (other lines may come between).
func inOrder(t *testing.T, content string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for _, l := range lines {
		if !lineRE.MatchString(l) {
			t.Errorf("line without timestamp and level: %q", l)
		}
	}
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.Contains(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("no line with %q (in order) in:\n%s", want[i], content)
	}
}
