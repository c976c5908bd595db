package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/sessions"
)

// TestRelayAfterHandOver: node A hands a persistent session over with a relay; what A routes
// to it afterwards is kept (not dropped) until End, which removes the session from A's
// index (a publish after it reaches nobody there). Node B adopts the session offline,
// messages routed there wait in its queue, and Merge puts the relayed ones first, leaving out
// the direct copy of a relayed one; the client then gets them all, in order, once.
func TestRelayAfterHandOver(t *testing.T) {
	a, addrA := testNode(t, nil)
	b, addrB := testNode(t, nil)
	expiry := &paho.ConnectProperties{SessionExpiryInterval: u32(300)}
	c, _ := v5(t, addrA, &paho.Connect{ClientID: "relayed", Properties: expiry}, nil)
	sub5(t, c, "rel/#", 1)
	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "offline session", func() bool { s, err := a.Session("relayed"); return err == nil && !s.Connected })
	if _, err := a.Publish("rel/m", []byte("0"), 1, false, "p"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	enc, relay, err := a.HandOverRelay(ctx, "relayed")
	if err != nil || relay == nil {
		t.Fatalf("HandOverRelay: %v %v", relay, err)
	}
	if _, err := a.Session("relayed"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("node A still lists the session: %v", err)
	}
	for _, p := range []string{"1", "2"} {
		if n, err := a.Publish("rel/m", []byte(p), 1, false, "p"); err != nil || n != 1 {
			t.Fatalf("publish %s on A while relaying: %d %v", p, n, err)
		}
	}
	tr, err := sessions.DecodeTransfer(enc)
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := b.AdoptSession(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AdoptSession(tr); err == nil {
		t.Fatal("a second adoption of the same client id succeeded")
	}
	for _, p := range []string{"2", "3"} { // "2": the direct copy of a relayed message
		if n, err := b.Publish("rel/m", []byte(p), 1, false, "p"); err != nil || n != 1 {
			t.Fatalf("publish %s on B: %d %v", p, n, err)
		}
	}
	kept, dropped := relay.End(ctx)
	if len(kept) != 2 || dropped != 0 {
		t.Fatalf("relay kept %d, dropped %d; want 2, 0", len(kept), dropped)
	}
	if again, _ := relay.End(ctx); again != nil {
		t.Fatal("a second End returned messages")
	}
	if n, err := a.Publish("rel/m", []byte("after"), 1, false, "p"); err != nil || n != 0 {
		t.Fatalf("publish on A after the relay ended: %d subscribers, %v", n, err)
	}
	var relayed []sessions.Queued
	for _, q := range kept { // as the cluster carries them: copies that own their bytes
		m, err := sessions.DecodeMessage(sessions.EncodeMessage(nil, q.Msg))
		if err != nil {
			t.Fatal(err)
		}
		q.Msg.Release()
		relayed = append(relayed, sessions.Queued{Msg: m, QoS: q.QoS})
	}
	same := func(r, d *sessions.Message) bool { return bytes.Equal(r.Payload, d.Payload) }
	if dropped, dups := adopted.Merge(relayed, same); dropped != 0 || dups != 1 {
		t.Fatalf("Merge: %d dropped, %d copies left out; want 0, 1", dropped, dups)
	}
	r := newReceived()
	_, ack := v5(t, addrB, &paho.Connect{ClientID: "relayed", Properties: expiry}, r)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the adopted session")
	}
	for _, p := range []string{"0", "1", "2", "3"} {
		r.expectMsg(t, "rel/m", p)
	}
	r.none(t, 200*time.Millisecond)
}

// TestOverlap: per publisher, only the longest run that ends the relayed messages and
// begins the direct ones is left out; QoS 0 messages and other publishers' never.
func TestOverlap(t *testing.T) {
	q := func(from, payload string, qos uint8) sessions.Queued {
		return sessions.Queued{Msg: &sessions.Message{From: from, Payload: []byte(payload), QoS: qos}, QoS: qos}
	}
	same := func(r, d *sessions.Message) bool { return bytes.Equal(r.Payload, d.Payload) }
	relayed := []sessions.Queued{q("a", "1", 1), q("a", "2", 1), q("b", "x", 1), q("a", "3", 1), q("a", "z", 0)}
	direct := []sessions.Queued{q("a", "2", 1), q("b", "y", 1), q("a", "z", 0), q("a", "3", 1), q("a", "4", 1), q("c", "3", 1)}
	got := overlap(relayed, direct, same)
	if len(got) != 2 || !got[0] || !got[3] {
		t.Fatalf("copies %v, want indexes 0 and 3", got)
	}
	if got := overlap(relayed, []sessions.Queued{q("a", "1", 1), q("a", "3", 1)}, same); len(got) != 0 {
		t.Fatalf("copies %v where the direct run does not continue the relayed end", got)
	}
}
