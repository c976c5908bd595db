package engine

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// eventLog records hook events as lines of text.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) add(format string, args ...any) {
	e.mu.Lock()
	e.events = append(e.events, fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

// expect waits until every wanted event was recorded, in this order (other events may come
// between them).
func (e *eventLog) expect(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		got := append([]string(nil), e.events...)
		e.mu.Unlock()
		i := 0
		for _, g := range got {
			if i < len(want) && g == want[i] {
				i++
			}
		}
		if i == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing event %q (in order); got:\n%s", want[i], strings.Join(got, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *eventLog) hooks() *Hooks {
	return &Hooks{
		ClientConnected: func(ev *ClientEvent) {
			e.add("connected %s user=%s v=%s clean=%v present=%v listener=%s", ev.ClientID, ev.Username, ev.Version, ev.CleanStart, ev.SessionPresent, ev.Listener)
		},
		ClientDisconnected: func(ev *ClientEvent, reason string) { e.add("disconnected %s: %s", ev.ClientID, reason) },
		SessionCreated:     func(id string) { e.add("session created %s", id) },
		SessionResumed:     func(id string) { e.add("session resumed %s", id) },
		SessionTerminated:  func(id, reason string) { e.add("session terminated %s: %s", id, reason) },
		Subscribed:         func(id, filter string, o trie.Options) { e.add("subscribed %s %s qos=%d", id, filter, o.QoS) },
		Unsubscribed:       func(id, filter string) { e.add("unsubscribed %s %s", id, filter) },
		MessagePublished: func(m *sessions.Message, k int) {
			e.add("published %s %q from=%s receivers=%d", m.Topic, m.Payload, m.From, k)
		},
		MessageDelivered: func(id string, m *sessions.Message, qos uint8) { e.add("delivered %s %s qos=%d", id, m.Topic, qos) },
		MessageAcked:     func(id string, m *sessions.Message) { e.add("acked %s %s", id, m.Topic) },
		MessageDropped:   func(id string, m *sessions.Message, cause DropCause) { e.add("dropped %s %s: %s", id, m.Topic, cause) },
	}
}

func TestHooks(t *testing.T) {
	n, addr := testNode(t, nil)
	var log eventLog
	remove := n.AddHooks(log.hooks())

	s1, _ := connectRaw(t, addr, codec.V5, "h1", func(c *codec.Connect) { c.UsernameFlag, c.Username = true, []byte("alice") })
	s1.subscribe(1, 0, sub5filter("a/#"))
	log.expect(t, "session created h1", "connected h1 user=alice v=5.0 clean=true present=false listener=external", "subscribed h1 a/# qos=0")

	pub, _ := connectRaw(t, addr, codec.V311, "h2", nil)
	codes := s1.subscribe(2, 0, sub("a/#", 1)) // options replaced
	if codes[0] != 1 {
		t.Fatal(codes)
	}
	pub.publish(&codec.Publish{QoS: 1, PacketID: 7, Topic: []byte("a/1"), Payload: []byte("x")})
	m := s1.recvPublish()
	s1.ack(codec.TypePuback, m.PacketID)
	pub.publish(&codec.Publish{Topic: []byte("nobody"), Payload: []byte("y")})
	// Delivery happens while the message is routed: on the publisher's loop before the
	// MessagePublished hook, on another loop in any order with it.
	log.expect(t, "subscribed h1 a/# qos=1", "delivered h1 a/1 qos=1", "acked h1 a/1")
	// h1's PUBACK and h2's second publish come from two connections, in either order.
	log.expect(t, "subscribed h1 a/# qos=1", `published a/1 "x" from=h2 receivers=1`,
		`published nobody "y" from=h2 receivers=0`, "dropped h2 nobody: no_subscribers")

	s1.send(codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a/#")}}, codec.V5))
	s1.expect(codec.TypeUnsuback)
	s1.disconnect(0, nil)
	log.expect(t, "unsubscribed h1 a/#", "disconnected h1: client sent DISCONNECT", "session terminated h1: connection closed with session expiry 0")

	// A persistent session is resumed.
	persist := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(60) }
	c3, _ := connectRaw(t, addr, codec.V5, "h3", persist)
	c3.c.Close()
	log.expect(t, "session created h3", "disconnected h3: read: EOF")
	connectRaw(t, addr, codec.V5, "h3", persist)
	log.expect(t, "session resumed h3", "connected h3 user= v=5.0 clean=false present=true listener=external")

	// Removed: no more events.
	remove()
	log.mu.Lock()
	k := len(log.events)
	log.mu.Unlock()
	connectRaw(t, addr, codec.V5, "h4", nil)
	time.Sleep(100 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.events) != k {
		t.Fatalf("events after the hooks were removed: %v", log.events[k:])
	}
}
