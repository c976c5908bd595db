package engine

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// loopOf returns the loop of the connection that owns clientID's session.
func loopOf(t *testing.T, n *Node, clientID string) *loop {
	t.Helper()
	s := n.reg.Get(clientID)
	if s == nil {
		t.Fatalf("no session for %q", clientID)
	}
	s.Lock()
	defer s.Unlock()
	c, _ := s.Owner.(*conn)
	if c == nil {
		t.Fatalf("session %q is offline", clientID)
	}
	return c.loop
}

// TestRetainedReplayDoesNotBlockWriters catches a replay of 20,000 retained messages of
// 1 KiB half-way, holding the subscriber's session lock as another loop delivering to it
// would. The subscriber never reads: its socket fills up and the rest waits in its session.
// Meanwhile a publisher on the other loop stores retained messages in the same part of the
// index: each must get its PUBACK, so the replay holds no index lock while it waits on the
// session or writes. Then the replay finishes, the index holds every message, and a late
// subscriber receives the ones stored during the replay.
func TestRetainedReplayDoesNotBlockWriters(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.MaxInflight = 65535
		c.Listeners[0].Zone.MaxMqueueLen = 100_000
	})
	const stored, during = 20_000, 20
	payload := bytes.Repeat([]byte("p"), 1024)
	for i := range stored {
		if _, err := n.Publish("r/"+strconv.Itoa(i), payload, 1, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	// A writer, and a subscriber on another loop.
	w, _ := connectRaw(t, addr, codec.V5, "writer", nil)
	var s *sessions.Session
	replayed := func() (subscribed bool, k int) { // hold s's lock
		return len(s.Subs) == 1, s.Window.Len() + s.Queue.Len()
	}
	// Catch a replay half-way: the test may be descheduled for the whole of one (about 15 ms)
	// on a loaded machine, so try a few subscribers.
	for attempt := 0; s == nil; attempt++ {
		if attempt == 10 {
			t.Fatal("ten replays of 20,000 messages ended before the test could take the session lock")
		}
		id := "stuck" + strconv.Itoa(attempt)
		stuck, _ := connectRaw(t, addr, codec.V5, id, nil)
		if loopOf(t, n, id) == loopOf(t, n, "writer") {
			stuck.c.Close()
			continue
		}
		s = n.reg.Get(id)
		stuck.send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("r/#", 1)}}, codec.V5))
		for {
			s.Lock()
			subscribed, k := replayed()
			if subscribed && k < stored {
				break // caught half-way, lock held
			}
			s.Unlock()
			if k >= stored {
				stuck.c.Close()
				s = nil
				break
			}
			runtime.Gosched()
		}
	}
	locked := true
	defer func() {
		if locked {
			s.Unlock()
		}
	}()
	for i := range during {
		w.publish(&codec.Publish{Topic: []byte("r/new/" + strconv.Itoa(i)), Payload: []byte("x"), QoS: 1, Retain: true, PacketID: uint16(i + 1)})
		if a := w.recvAck(codec.TypePuback); a.Code != codec.Success {
			t.Fatalf("retained publish %d: PUBACK %v", i, a.Code)
		}
	}
	_, k := replayed()
	s.Unlock()
	locked = false
	t.Logf("%d retained publishes acknowledged while the replay waited with %d of %d messages sent", during, k, stored)

	waitFor(t, 10*time.Second, "the replay to reach the session", func() bool {
		s.Lock()
		defer s.Unlock()
		_, k := replayed()
		return k >= stored
	})
	if got := n.retained.Len(); got != stored+during {
		t.Fatalf("%d retained messages, want %d", got, stored+during)
	}
	// The late subscriber may land on the stuck subscriber's loop, which is now writing the
	// 20 MB backlog into that connection's buffer: 10–80 ms measured without -race on a busy
	// 2-core box, past 5 s under -race with the box loaded. So its CONNACK gets 30 s: this
	// wait bounds a hang, it measures nothing.
	late := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	late.send(connectPacket(codec.V5, "late", nil))
	if h, _ := late.packetWithin(30 * time.Second); h.Type != codec.TypeConnack {
		t.Fatalf("late subscriber got %v, want CONNACK", h.Type)
	}
	late.subscribe(1, 0, sub("r/new/#", 0))
	got := map[string]bool{}
	for range during {
		p := late.recvPublish()
		if !p.Retain {
			t.Fatalf("late subscriber got %q without RETAIN", p.Topic)
		}
		got[string(p.Topic)] = true
	}
	if len(got) != during {
		t.Fatalf("late subscriber got %d distinct retained topics, want %d", len(got), during)
	}
}
