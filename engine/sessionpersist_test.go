package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

func openTestStore(t *testing.T, dir string) *sessions.Store {
	t.Helper()
	st, _, err := sessions.OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func stopNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// pubAcked publishes with QoS 1 or 2 from a raw client and waits for PUBACK, or PUBREC then
// PUBREL → PUBCOMP.
func pubAcked(t *testing.T, c *client, topic string, qos byte, id uint16, payload string) {
	t.Helper()
	c.publish(&codec.Publish{Topic: []byte(topic), Payload: []byte(payload), QoS: qos, PacketID: id})
	if qos == 1 {
		if a := c.recvAck(codec.TypePuback); a.PacketID != id {
			t.Fatalf("PUBACK %d, want %d", a.PacketID, id)
		}
		return
	}
	if a := c.recvAck(codec.TypePubrec); a.PacketID != id {
		t.Fatalf("PUBREC %d, want %d", a.PacketID, id)
	}
	c.ack(codec.TypePubrel, id)
	c.recvAck(codec.TypePubcomp)
}

// recvAll reads k PUBLISH packets, acknowledging each completely (PUBRELs may arrive among
// later PUBLISHes), and returns their payloads.
func (c *client) recvAll(k int) []string {
	c.t.Helper()
	var got []string
	open := map[uint16]bool{}
	for len(got) < k || len(open) > 0 {
		h, pkt := c.packet()
		switch h.Type {
		case codec.TypePublish:
			p := &codec.Publish{}
			if err := p.Decode(pkt, c.v); err != nil {
				c.t.Fatal(err)
			}
			got = append(got, string(p.Payload))
			switch p.QoS {
			case 1:
				c.ack(codec.TypePuback, p.PacketID)
			case 2:
				c.ack(codec.TypePubrec, p.PacketID)
				open[p.PacketID] = true
			}
		case codec.TypePubrel:
			a := &codec.Ack{}
			if err := a.Decode(pkt, c.v); err != nil || !open[a.PacketID] {
				c.t.Fatalf("PUBREL % x: %v", pkt, err)
			}
			delete(open, a.PacketID)
			c.ack(codec.TypePubcomp, a.PacketID)
		default:
			c.t.Fatalf("got %v, want PUBLISH or PUBREL", h.Type)
		}
	}
	return got
}

// TestPersistentSessionsSurviveRestart: a persistent MQTT 5 subscriber and an MQTT 3.1.1
// clean-session-false subscriber, with QoS 1 and 2 messages queued, a QoS 1 message in flight
// unacknowledged and a QoS 2 one past PUBREC; and a persistent publisher with a QoS 2 message
// awaiting PUBREL. After a graceful restart on the same store everything resumes: sessions
// present, subscriptions route, the inflight QoS 1 comes again with DUP and its packet id,
// the QoS 2 past PUBREC gets PUBREL, queued messages arrive in order, and the publisher's QoS
// 2 flow completes with the message routed once.
func TestPersistentSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n1, addr := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	persistent5 := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(3600) }
	persistent3 := func(c *codec.Connect) { c.CleanStart = false }

	s5, _ := mustConnect(t, addr, codec.V5, "s5", persistent5)
	if codes := s5.subscribe(1, 7, codec.Subscription{Filter: []byte("t/5"), QoS: 2}); codes[0] != 2 {
		t.Fatalf("SUBACK %v", codes)
	}
	s3, _ := mustConnect(t, addr, codec.V311, "s3", persistent3)
	s3.subscribe(1, 0, sub("t/3", 2))
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)

	// In flight to s5: a QoS 1 unacknowledged, a QoS 2 past PUBREC.
	pubAcked(t, pub, "t/5", 1, 1, "inflight1")
	p1 := s5.recvPublish()
	pubAcked(t, pub, "t/5", 2, 2, "inflight2")
	p2 := s5.recvPublish()
	s5.ack(codec.TypePubrec, p2.PacketID)
	s5.recvAck(codec.TypePubrel)
	s5.c.Close()
	s3.c.Close()
	waitConns(t, n1, 1)

	// Queued while they are offline.
	want := []string{"q1", "q2", "q3", "q4"}
	for i, p := range want {
		qos := byte(1 + i%2)
		pubAcked(t, pub, "t/5", qos, uint16(10+i), p)
		pubAcked(t, pub, "t/3", qos, uint16(20+i), p)
	}
	// A persistent publisher's QoS 2 message awaiting PUBREL.
	pp, _ := mustConnect(t, addr, codec.V5, "pp", persistent5)
	pp.publish(&codec.Publish{Topic: []byte("t/5"), Payload: []byte("once"), QoS: 2, PacketID: 9})
	pp.recvAck(codec.TypePubrec)
	pp.c.Close()
	pub.c.Close()
	waitConns(t, n1, 0)
	stopNode(t, n1)

	n2, addr2 := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	if c, _ := n2.reg.Persistent(); c != 3 {
		t.Fatalf("%d persistent sessions loaded, want 3", c)
	}
	// The publisher completes its flow; a retransmission of the PUBLISH is not routed again.
	pp, ack := mustConnect(t, addr2, codec.V5, "pp", persistent5)
	if !ack.SessionPresent {
		t.Fatal("publisher's session not present")
	}
	pp.publish(&codec.Publish{Topic: []byte("t/5"), Payload: []byte("once"), QoS: 2, PacketID: 9, Dup: true})
	pp.recvAck(codec.TypePubrec)
	pp.ack(codec.TypePubrel, 9)
	if a := pp.recvAck(codec.TypePubcomp); a.PacketID != 9 || a.Code != codec.Success {
		t.Fatalf("PUBCOMP %+v", a)
	}

	s5, ack = mustConnect(t, addr2, codec.V5, "s5", persistent5)
	if !ack.SessionPresent {
		t.Fatal("s5: session not present")
	}
	r1 := s5.recvPublish()
	if string(r1.Payload) != "inflight1" || !r1.Dup || r1.PacketID != p1.PacketID || r1.QoS != 1 {
		t.Fatalf("resent %+v, want inflight1 DUP id %d", r1, p1.PacketID)
	}
	if a := s5.recvAck(codec.TypePubrel); a.PacketID != p2.PacketID {
		t.Fatalf("PUBREL %d, want %d", a.PacketID, p2.PacketID)
	}
	s5.ack(codec.TypePuback, r1.PacketID)
	s5.ack(codec.TypePubcomp, p2.PacketID)
	if got := s5.recvAll(5); !slices.Equal(got, append(want, "once")) {
		t.Fatalf("s5 got %q, want %q", got, append(want, "once"))
	}
	s5.silent(200 * time.Millisecond)

	s3, ack = mustConnect(t, addr2, codec.V311, "s3", persistent3)
	if !ack.SessionPresent {
		t.Fatal("s3: session not present")
	}
	if got := s3.recvAll(4); !slices.Equal(got, want) {
		t.Fatalf("s3 got %q, want %q", got, want)
	}
	// The subscriptions route new messages, with their options.
	pub, _ = mustConnect(t, addr2, codec.V311, "pub", nil)
	pubAcked(t, pub, "t/5", 2, 1, "after")
	pubAcked(t, pub, "t/3", 1, 2, "after")
	p := s5.recvPublish()
	if string(p.Payload) != "after" || p.QoS != 2 || !slices.Equal(p.Props.SubscriptionIDs, []uint32{7}) {
		t.Fatalf("after restart: %+v", p)
	}
	s5.ack(codec.TypePubrec, p.PacketID)
	s5.recvAck(codec.TypePubrel)
	s5.ack(codec.TypePubcomp, p.PacketID)
	if got := s3.recvAll(1); got[0] != "after" {
		t.Fatalf("s3 after restart: %q", got)
	}

	// Everything acknowledged: only the three sessions and their subscriptions remain.
	waitFor(t, 5*time.Second, "acknowledged deliveries deleted from the store", func() bool {
		st := n2.cfg.Store
		if st.Log().Sync() != nil {
			return false
		}
		return st.Log().Stats().LiveKeys == 3+2
	})
}

// TestPersistentSessionWillAndEnd: a delayed will pending at a graceful stop is published
// after the restart when due, by a session that is still there with its subscription; a
// clean start over a stored session deletes every record it had; a session with expiry 0
// never writes any.
func TestPersistentSessionWillAndEnd(t *testing.T) {
	dir := t.TempDir()
	n1, addr := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	w, _ := mustConnect(t, addr, codec.V5, "w", func(c *codec.Connect) {
		c.Props.SetSessionExpiry(60)
		c.WillFlag, c.WillTopic, c.WillPayload, c.WillQoS = true, []byte("will/w"), []byte("gone"), 1
		c.WillProps.SetWillDelay(2)
	})
	w.subscribe(1, 0, sub("w/in", 1))
	volatile, _ := mustConnect(t, addr, codec.V5, "v", nil)
	volatile.subscribe(1, 0, sub("w/in", 1))
	w.c.Close() // no DISCONNECT: the will is delayed
	waitFor(t, 5*time.Second, "w offline", func() bool {
		s := n1.reg.Get("w")
		s.Lock()
		defer s.Unlock()
		return s.Owner == nil && s.DelayedWill != nil
	})
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
	pubAcked(t, pub, "w/in", 1, 1, "queued")
	volatile.recvAll(1)
	stopNode(t, n1)

	st := openTestStore(t, dir)
	n2, addr2 := testNode(t, func(c *Config) { c.Store = st })
	r, _ := mustConnect(t, addr2, codec.V311, "r", nil)
	r.subscribe(1, 0, sub("will/w", 1))
	start := time.Now()
	if got := r.recvAll(1); got[0] != "gone" {
		t.Fatalf("will %q", got)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("will late")
	}
	s := n2.reg.Get("w")
	if s == nil {
		t.Fatal("session ended with its will")
	}
	s.Lock()
	q := s.Queue.Len()
	s.Unlock()
	if q != 1 {
		t.Fatalf("%d queued, want 1", q)
	}
	// A clean start over it deletes everything it stored.
	w, ack := mustConnect(t, addr2, codec.V5, "w", nil)
	if ack.SessionPresent {
		t.Fatal("clean start: session present")
	}
	w.silent(200 * time.Millisecond)
	waitFor(t, 5*time.Second, "records deleted", func() bool {
		return st.Log().Sync() == nil && st.Log().Stats().LiveKeys == 0
	})
}

// TestSessionBecomesPersistent: a session with expiry 0 never becomes persistent. A
// clean-start-false connection with an expiry that takes it over (while messages are in
// flight on it) starts a new, empty session [MQTT-3.1.2-6]: nothing of the old one is resent,
// and nothing of it is stored to come back after a restart.
func TestSessionBecomesPersistent(t *testing.T) {
	dir := t.TempDir()
	n1, addr := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	x, _ := mustConnect(t, addr, codec.V5, "x", nil)
	x.subscribe(1, 0, sub("x/t", 1))
	pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
	for i := range 3 {
		pubAcked(t, pub, "x/t", 1, uint16(i+1), fmt.Sprint("m", i))
	}
	var ids []uint16
	for range 3 {
		ids = append(ids, x.recvPublish().PacketID)
	}
	x.ack(codec.TypePuback, ids[1])
	// Fence: the PINGRESP comes after the PUBACK was handled (same connection, in order); the
	// takeover below arrives on another connection, maybe another loop.
	x.send(codec.AppendPingreq(nil))
	x.expect(codec.TypePingresp)
	persistent := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(60) }
	x2, ack := mustConnect(t, addr, codec.V5, "x", persistent)
	if ack.SessionPresent {
		t.Fatal("a session with expiry 0 was resumed")
	}
	x2.silent(300 * time.Millisecond) // no redelivery: the in-flight messages ended with x
	x2.c.Close()
	pub.c.Close()
	waitConns(t, n1, 0)
	stopNode(t, n1)

	_, addr2 := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	x3, ack := mustConnect(t, addr2, codec.V5, "x", persistent)
	if !ack.SessionPresent {
		t.Fatal("the persistent session of x2 not present after the restart")
	}
	x3.silent(300 * time.Millisecond)
	pub2, _ := mustConnect(t, addr2, codec.V311, "pub", nil)
	pubAcked(t, pub2, "x/t", 1, 1, "late")
	x3.silent(300 * time.Millisecond) // x's subscription did not come back either
}
