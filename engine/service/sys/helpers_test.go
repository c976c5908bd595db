package sys

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

var startMu sync.Mutex

// startNode starts a node on a free loopback port with the shipped acl.conf (acl.Default)
// and stops it when the test ends.
func startNode(t *testing.T) (*engine.Node, string) {
	t.Helper()
	return startNodeWith(t, nil)
}

// startNodeWith is startNode with the configuration adjusted by mutate first.
func startNodeWith(t *testing.T, mutate func(*engine.Config)) (*engine.Node, string) {
	t.Helper()
	cfg := &engine.Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: engine.DefaultZone(), MaxConnections: 1000}},
		AllowAnonymous: true,
		ACL:            acl.Default(),
		ACLNoMatch:     acl.Allow,
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

// startService starts the service on n (stopped when the test ends, before the node).
func startService(t *testing.T, n *engine.Node, o Options) *Service {
	t.Helper()
	s := New(n, o)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// inbox collects what a paho client receives.
type inbox struct{ ch chan *paho.Publish }

func newInbox() *inbox { return &inbox{ch: make(chan *paho.Publish, 10000)} }

func (b *inbox) handler(pr paho.PublishReceived) (bool, error) {
	b.ch <- pr.Packet
	return true, nil
}

// next waits up to 5 s for a message whose topic satisfies match, skipping the others.
func (b *inbox) next(t *testing.T, what string, match func(topic string) bool) *paho.Publish {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-b.ch:
			if match(p.Topic) {
				return p
			}
		case <-deadline:
			t.Fatalf("no %s within 5s", what)
			return nil
		}
	}
}

// client connects a paho (MQTT 5) client from local (nil: any) and returns it with its inbox.
func client(t *testing.T, addr string, local net.Addr, cp *paho.Connect) (*paho.Client, *inbox) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	in := newInbox()
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){in.handler}})
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
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

// subscribe subscribes c to filter at QoS 1 and returns the reason code granted.
func subscribe(t *testing.T, c *paho.Client, filter string) byte {
	t.Helper()
	sa, err := c.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa != nil && len(sa.Reasons) == 1 {
		return sa.Reasons[0] // paho reports a refusal as an error too
	}
	if err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	return sa.Reasons[0]
}
