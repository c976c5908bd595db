package mqttc

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

func startNode(t *testing.T) string {
	t.Helper()
	cfg := &engine.Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: engine.DefaultZone(), MaxConnections: 100}},
		AllowAnonymous: true, ACL: acl.Default(), ACLNoMatch: acl.Allow, LoopCount: 1, SweepInterval: 50 * time.Millisecond,
	}
	n, err := engine.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	return n.Addr("external")
}

type handler struct {
	closed atomic.Pointer[error]
	subs   chan *codec.Suback
	pubs   chan string
}

func newHandler() *handler {
	return &handler{subs: make(chan *codec.Suback, 10), pubs: make(chan string, 10)}
}

func (h *handler) OnPublish(c *Conn, p *codec.Publish) {
	h.pubs <- string(p.Topic) + " " + string(p.Payload)
	if p.QoS == 1 {
		c.Ack(codec.TypePuback, p.PacketID)
	}
}
func (h *handler) OnAck(*Conn, *codec.Ack) {}
func (h *handler) OnSuback(_ *Conn, s *codec.Suback) {
	h.subs <- &codec.Suback{PacketID: s.PacketID, Codes: append([]codec.ReasonCode(nil), s.Codes...)}
}
func (h *handler) OnClose(_ *Conn, err error) { h.closed.Store(&err) }

// TestKeepAlive: an idle connection with a 1 s keep alive stays up for several intervals (the
// client pings), and a publish still gets through afterwards.
func TestKeepAlive(t *testing.T) {
	addr := startNode(t)
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		h := newHandler()
		c, info, err := Dial(context.Background(), Options{Addr: addr, Version: v, ClientID: "ka", CleanStart: true, KeepAlive: time.Second}, h)
		if err != nil {
			t.Fatal(err)
		}
		if info.SessionPresent || info.MaximumQoS != 2 {
			t.Errorf("v%d CONNACK info %+v", v, info)
		}
		if err := c.Subscribe(1, []codec.Subscription{{Filter: []byte("ka/#"), QoS: 1}}); err != nil {
			t.Fatal(err)
		}
		if s := <-h.subs; s.PacketID != 1 || len(s.Codes) != 1 || s.Codes[0] != codec.GrantedQoS1 {
			t.Fatalf("SUBACK %+v", s)
		}
		time.Sleep(3500 * time.Millisecond)
		if e := h.closed.Load(); e != nil {
			t.Fatalf("v%d: an idle connection with keep alive closed: %v", v, *e)
		}
		c.Write(func(b []byte) []byte {
			return codec.AppendPublish(b, &codec.Publish{QoS: 0, Topic: []byte("ka/x"), Payload: []byte("alive")}, v)
		})
		select {
		case m := <-h.pubs:
			if m != "ka/x alive" {
				t.Fatalf("received %q", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("own publish not received")
		}
		c.Close()
		<-c.Done()
		if !errors.Is(c.Err(), ErrClosed) {
			t.Fatalf("Err after Close: %v", c.Err())
		}
	}
}

// TestBridgeBitRefused: a server without mosquitto's bridge mode refuses the level with the
// bridge bit, and the error says so (the bridge then connects without it).
func TestBridgeBitRefused(t *testing.T) {
	addr := startNode(t)
	_, _, err := Dial(context.Background(), Options{Addr: addr, Version: codec.V311, ClientID: "b", CleanStart: true, BridgeBit: true}, newHandler())
	if !errors.Is(err, ErrRefused) || !errors.Is(err, codec.UnsupportedProtocolVersion) {
		t.Fatalf("CONNECT with the bridge bit: %v, want a refusal for the protocol version", err)
	}
}
