package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine/acl"
)

// handOverLocator is a SessionLocator over another Node of the same process: every client id
// in ids lives on from. block makes Fetch wait for its deadline instead.
type handOverLocator struct {
	from    atomic.Pointer[Node]
	ids     map[string]bool
	block   bool
	fetches atomic.Int32
}

func (l *handOverLocator) Elsewhere(clientID string) bool { return l.ids[clientID] }

func (l *handOverLocator) Fetch(ctx context.Context, clientID string, clean bool) ([]byte, error) {
	l.fetches.Add(1)
	if l.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	b, err := l.from.Load().HandOver(ctx, clientID, clean)
	if errors.Is(err, ErrNoSession) {
		return nil, nil
	}
	return b, err
}

// TestHandOverBetweenNodes: node B's locator fetches sessions from node A. An offline
// persistent session with queued QoS 1 messages moves (Session Present 1, messages
// delivered, subscription routed on B, gone from A); an online one ends on A with 0x8E and
// moves; a clean start discards A's session; a client id the locator does not name never
// asks.
func TestHandOverBetweenNodes(t *testing.T) {
	a, addrA := testNode(t, nil)
	loc := &handOverLocator{ids: map[string]bool{"h-off": true, "h-on": true, "h-clean": true}}
	loc.from.Store(a)
	b2, addrB2 := testNodeWith(t, loc)
	expiry := &paho.ConnectProperties{SessionExpiryInterval: u32(300)}

	// Offline with a queue.
	c, _ := v5(t, addrA, &paho.Connect{ClientID: "h-off", Properties: expiry}, nil)
	sub5(t, c, "off/#", 1)
	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "offline session", func() bool { s, err := a.Session("h-off"); return err == nil && !s.Connected })
	for k := range 3 {
		if _, err := a.Publish("off/m", []byte(fmt.Sprint(k)), 1, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	r := newReceived()
	c2, ack := v5(t, addrB2, &paho.Connect{ClientID: "h-off", Properties: expiry}, r)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for a session handed over")
	}
	for k := range 3 {
		r.expectMsg(t, "off/m", fmt.Sprint(k))
	}
	if _, err := a.Session("h-off"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("node A still has the session: %v", err)
	}
	if _, err := b2.Publish("off/x", []byte("on B"), 1, false, ""); err != nil {
		t.Fatal(err)
	}
	r.expectMsg(t, "off/x", "on B")
	_ = c2

	// Online: 0x8E on A, the subscription moves.
	gone := make(chan byte, 1)
	ca := paho.NewClient(paho.ClientConfig{Conn: dial(t, addrA), OnServerDisconnect: func(d *paho.Disconnect) { gone <- d.ReasonCode }})
	if _, err := ca.Connect(ctx5(t), &paho.Connect{ClientID: "h-on", KeepAlive: 30, Properties: expiry}); err != nil {
		t.Fatal(err)
	}
	sub5(t, ca, "on/#", 1)
	r2 := newReceived()
	_, ack = v5(t, addrB2, &paho.Connect{ClientID: "h-on", Properties: expiry}, r2)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for an online session handed over")
	}
	select {
	case code := <-gone:
		if code != 0x8E {
			t.Fatalf("DISCONNECT %#x, want 0x8E", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node A's connection was not ended")
	}
	if _, err := b2.Publish("on/x", []byte("moved"), 1, false, ""); err != nil {
		t.Fatal(err)
	}
	r2.expectMsg(t, "on/x", "moved")

	// Clean start: A's session is discarded, nothing resumes.
	c3, _ := v5(t, addrA, &paho.Connect{ClientID: "h-clean", Properties: expiry}, nil)
	sub5(t, c3, "clean/#", 1)
	_ = c3.Disconnect(&paho.Disconnect{})
	waitFor(t, 2*time.Second, "offline session", func() bool { s, err := a.Session("h-clean"); return err == nil && !s.Connected })
	_, ack = v5(t, addrB2, &paho.Connect{ClientID: "h-clean", CleanStart: true, Properties: expiry}, nil)
	if ack.SessionPresent {
		t.Fatal("Session Present 1 on a clean start")
	}
	if _, err := a.Session("h-clean"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("node A still has the session after a clean start elsewhere: %v", err)
	}

	before := loc.fetches.Load()
	v5(t, addrB2, &paho.Connect{ClientID: "local-only", CleanStart: true}, nil)
	if loc.fetches.Load() != before {
		t.Fatal("a client id the locator does not name was fetched")
	}
}

// TestHandOverTimeout: the other node never answers: the CONNECT waits at most
// remoteSessionTimeout and starts a new session, and meanwhile the loops serve other
// clients.
func TestHandOverTimeout(t *testing.T) {
	loc := &handOverLocator{ids: map[string]bool{"stuck": true}, block: true}
	_, addr := testNodeWith(t, loc)
	done := make(chan *paho.Connack, 1)
	go func() {
		conn := dial(t, addr)
		c := paho.NewClient(paho.ClientConfig{Conn: conn})
		ctx, cancel := context.WithTimeout(context.Background(), 2*remoteSessionTimeout)
		defer cancel()
		ack, err := c.Connect(ctx, &paho.Connect{ClientID: "stuck", KeepAlive: 30})
		if err != nil {
			t.Error(err)
		}
		done <- ack
		if c != nil {
			_ = c.Disconnect(&paho.Disconnect{})
		}
	}()
	time.Sleep(100 * time.Millisecond)
	for k := range 4 { // clients on every loop: nothing waits for the stuck CONNECT
		r := newReceived()
		c, _ := v5(t, addr, &paho.Connect{ClientID: fmt.Sprint("other", k), CleanStart: true}, r)
		sub5(t, c, "t/"+fmt.Sprint(k), 1)
		pub5(t, c, "t/"+fmt.Sprint(k), 1, "x")
		r.expectMsg(t, "t/"+fmt.Sprint(k), "x")
	}
	select {
	case <-done:
		t.Fatal("the CONNECT did not wait for the other node")
	default:
	}
	select {
	case ack := <-done:
		if ack == nil || ack.ReasonCode != 0 || ack.SessionPresent {
			t.Fatalf("CONNACK %+v, want success without a session", ack)
		}
	case <-time.After(2 * remoteSessionTimeout):
		t.Fatal("no CONNACK after the timeout")
	}
}

// testNodeWith starts a test node (as testNode) with loc as its session locator.
func testNodeWith(t *testing.T, loc SessionLocator) (*Node, string) {
	t.Helper()
	cfg := &Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: DefaultZone(), MaxConnections: 10000}},
		AllowAnonymous: true,
		ACLNoMatch:     acl.Allow,
		LoopCount:      2,
		SweepInterval:  100 * time.Millisecond,
	}
	n, err := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetSessionLocator(loc); err != nil {
		t.Fatal(err)
	}
	startMu.Lock()
	err = n.Start()
	startMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetSessionLocator(loc); err == nil {
		t.Fatal("SetSessionLocator after Start accepted")
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

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
