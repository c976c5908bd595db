package engine

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

var startMu sync.Mutex

// testNode starts a node on a free loopback port with the default zone, after mutate (may
// be nil) adjusted the config, and stops it when the test ends.
func testNode(t *testing.T, mutate func(*Config)) (*Node, string) {
	t.Helper()
	return testNodeLog(t, mutate, nil)
}

// testNodeLog is testNode logging to log; nil logs warnings (everything with
// ENGINE_TEST_LOG set) to stderr.
func testNodeLog(t *testing.T, mutate func(*Config), log *slog.Logger) (*Node, string) {
	t.Helper()
	z := DefaultZone()
	cfg := &Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: z, MaxConnections: 10000}},
		AllowAnonymous: true,
		ACLNoMatch:     acl.Allow,
		SharedStrategy: "round_robin",
		LoopCount:      2,
		SweepInterval:  100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(cfg)
	}
	if log == nil {
		level := slog.LevelWarn
		if os.Getenv("ENGINE_TEST_LOG") != "" {
			level = slog.LevelDebug
		}
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	var n *Node
	for attempt := 1; ; attempt++ {
		var err error
		if n, err = New(cfg, log); err != nil {
			t.Fatal(err)
		}
		// Start probes a free port and then binds it again in gnet: serialise the nodes of
		// this process so they cannot pick the same port, and retry when a client socket's
		// ephemeral port took it in between.
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

// received collects the messages a paho v5 client receives.
type received struct {
	ch chan *paho.Publish
}

func newReceived() *received { return &received{ch: make(chan *paho.Publish, 1000)} }

func (r *received) handler(pr paho.PublishReceived) (bool, error) {
	r.ch <- pr.Packet
	return true, nil
}

// next waits for one message.
func (r *received) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-r.ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message received within 5s")
		return nil
	}
}

// none asserts that no message arrives within d.
func (r *received) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-r.ch:
		t.Fatalf("unexpected message on %q: %q", p.Topic, p.Payload)
	case <-time.After(d):
	}
}

// v5 connects a paho.golang (MQTT 5) client.
func v5(t *testing.T, addr string, cp *paho.Connect, r *received) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
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
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ca
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a raw MQTT client for malformed-input tests.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// packet reads one whole packet within 5 s, or fails the test.
func (r *rawConn) packet() (codec.Header, []byte) {
	r.t.Helper()
	return r.packetWithin(5 * time.Second)
}

// packetWithin reads one whole packet within d, or fails the test. For a fence after a large
// batch, where d bounds a hang rather than measuring anything.
func (r *rawConn) packetWithin(d time.Duration) (codec.Header, []byte) {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	var buf []byte
	for {
		h, err := codec.Frame(buf, 0)
		if err != nil {
			r.t.Fatalf("bad packet from broker: %v", err)
		}
		if h.Total > 0 {
			return h, buf[:h.Total]
		}
		if h.HeaderLen > 0 { // the length is known: read the rest at once
			full := make([]byte, h.HeaderLen+h.Length)
			copy(full, buf)
			if _, err := io.ReadFull(r.r, full[len(buf):]); err != nil {
				r.t.Fatalf("reading packet body: %v", err)
			}
			buf = full
			continue
		}
		b, err := r.r.ReadByte()
		if err != nil {
			r.t.Fatalf("reading packet: %v (have % x)", err, buf)
		}
		buf = append(buf, b)
	}
}

// closed asserts the broker closes the connection (EOF) within 5s, possibly after sending
// packets, which are returned.
func (r *rawConn) closed() [][]byte {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(r.r)
	if err != nil {
		r.t.Fatalf("expected the broker to close the connection, got %v", err)
	}
	var pkts [][]byte
	for len(all) > 0 {
		h, err := codec.Frame(all, 0)
		if err != nil || h.Total == 0 {
			r.t.Fatalf("trailing bytes before close: % x", all)
		}
		pkts = append(pkts, all[:h.Total])
		all = all[h.Total:]
	}
	return pkts
}

func connectPacket(v codec.Version, clientID string, mutate func(*codec.Connect)) []byte {
	c := &codec.Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: []byte(clientID)}
	if mutate != nil {
		mutate(c)
	}
	return codec.AppendConnect(nil, c)
}
