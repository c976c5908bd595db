package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"

	"github.com/emqgo/emqgo/sessions"
)

// TestRelayAfterHandOver: node A hands a persistent session over with a relay; what A routes
// to it afterwards is kept (not dropped) until End, which removes the session from A's
// index (a publish after it reaches nobody there). Node B adopts the session offline,
// messages routed there wait in its queue, and Merge puts the relayed ones first. B leaves
// out the copies that A forwarded to it directly (same tag, publisher, topic and payload):
// of a transferred message on arrival, of a relayed one in Merge or, arriving after it, on
// arrival; a message equal but for its tag is not a copy, nor is, after Merge, one equal to
// a relayed message older than the last one copied (A forwards in order: its copy would
// have come first). The client gets the others once, in order, and B's copy set ends after
// copyWatch.
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
	for _, p := range []string{"1", "2", "3"} {
		if n, err := a.Publish("rel/m", []byte(p), 1, false, "p"); err != nil || n != 1 {
			t.Fatalf("publish %s on A while relaying: %d %v", p, n, err)
		}
	}
	tr, err := sessions.DecodeTransfer(enc)
	if err != nil {
		t.Fatal(err)
	}
	tag0 := tr.Entries[0].Msg.PeerTag
	if tag0 == 0 {
		t.Fatal("the transferred QoS 1 message has no tag")
	}
	adopted, err := b.AdoptSession(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AdoptSession(tr); err == nil {
		t.Fatal("a second adoption of the same client id succeeded")
	}
	kept, dropped := relay.End(ctx)
	if len(kept) != 3 || dropped != 0 {
		t.Fatalf("relay kept %d, dropped %d; want 3, 0", len(kept), dropped)
	}
	if again, _ := relay.End(ctx); again != nil {
		t.Fatal("a second End returned messages")
	}
	if n, err := a.Publish("rel/m", []byte("after"), 1, false, "p"); err != nil || n != 0 {
		t.Fatalf("publish on A after the relay ended: %d subscribers, %v", n, err)
	}
	var relayed []sessions.Queued
	tags := map[string]uint16{"0": tag0}
	for _, q := range kept { // as the cluster carries them: copies that own their bytes, tagged
		m, err := sessions.DecodeMessage(sessions.EncodeMessage(nil, q.Msg))
		if err != nil {
			t.Fatal(err)
		}
		m.PeerTag = q.Msg.Tag()
		tags[string(m.Payload)] = m.PeerTag
		q.Msg.Release()
		relayed = append(relayed, sessions.Queued{Msg: m, QoS: q.QoS})
	}

	// What A forwarded to B directly, as the cluster delivers it.
	fromA, err := b.NewSubscriber(SubscriberOptions{Name: "A", Peer: true, Handle: func([]Delivery) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer fromA.Close()
	forward := func(payload string, tag uint16) int {
		p := &codec.Publish{QoS: 1, PacketID: tag, Topic: []byte("rel/m"), Payload: []byte(payload)}
		return fromA.RouteFromPeer([]PeerMessage{{Publish: p, From: "p"}})
	}
	if k := forward("0", tag0); k != 0 { // a copy of the transferred "0"
		t.Fatalf("the copy of a transferred message was routed to %d", k)
	}
	if k := forward("2", tags["2"]); k != 1 { // queued until Merge, which leaves it out
		t.Fatalf("direct copy of a relayed message before Merge routed to %d", k)
	}
	if k := forward("5", 7); k != 1 {
		t.Fatalf("a new message routed to %d", k)
	}
	if n, err := b.Publish("rel/m", []byte("6"), 1, false, "p"); err != nil || n != 1 {
		t.Fatalf("publish 6 on B: %d %v", n, err)
	}
	if dropped, dups := adopted.Merge(relayed); dropped != 0 || dups != 1 {
		t.Fatalf("Merge: %d dropped, %d copies left out; want 0, 1", dropped, dups)
	}
	if k := forward("3", tags["3"]); k != 0 { // a copy of a relayed one, arriving late
		t.Fatalf("a late copy of a relayed message was routed to %d", k)
	}
	if k := forward("3", tags["3"]^0x8000); k != 1 { // same publisher, topic and payload, another tag
		t.Fatalf("a message equal but for its tag routed to %d", k)
	}
	if k := forward("1", tags["1"]); k != 1 { // older than "2", whose copy came: not a copy
		t.Fatalf("a message equal to a relayed one before the last copied routed to %d", k)
	}
	r := newReceived()
	_, ack := v5(t, addrB, &paho.Connect{ClientID: "relayed", Properties: expiry}, r)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the adopted session")
	}
	for _, p := range []string{"0", "1", "2", "3", "5", "6", "3", "1"} {
		r.expectMsg(t, "rel/m", p)
	}
	r.none(t, 200*time.Millisecond)
	waitFor(t, copyWatch+time.Second, "the end of the copy set", func() bool { return b.relays.copies.count.Load() == 0 })
}

// TestCopySetHorizon: only the transferred QoS 1/2 messages received within copyHorizon
// enter the copy set (an older one was routed before the move and has no copy on its way).
func TestCopySetHorizon(t *testing.T) {
	n, _ := testNode(t, nil)
	now := time.Now().UnixNano()
	msg := func(p string, qos uint8, created int64) sessions.TransferEntry {
		return sessions.TransferEntry{Queued: sessions.Queued{QoS: qos, Msg: &sessions.Message{From: "p", Topic: []byte("t"), Payload: []byte(p), QoS: qos, Created: created, PeerTag: 9}}}
	}
	s := sessions.New("horizon", now)
	c := n.watchCopies(s, []sessions.TransferEntry{msg("old", 1, now-int64(2*copyHorizon)), msg("new", 1, now), msg("q0", 0, now)})
	defer n.unwatchCopies(s, c)
	if len(c.keys) != 1 {
		t.Fatalf("%d identities in the set, want 1", len(c.keys))
	}
	fresh := msg("new", 1, now).Msg
	if !n.isCopy(s, fresh) || n.isCopy(s, fresh) {
		t.Fatal("the copy of the recent message is not left out exactly once")
	}
	if n.isCopy(s, msg("old", 1, now).Msg) {
		t.Fatal("a copy of a message older than the horizon was left out")
	}
}

// TestRelayKeepsOrder: a delivery to a connected session, matched before the session was
// handed over and still on its way to the connection's loop when the hand-over ran there,
// is relayed ahead of one matched after the hand-over (each publisher's messages stay in
// order). The test holds the loop: the first message waits in its inbox behind the task
// that hands the session over; the second is routed once the hand-over is done.
func TestRelayKeepsOrder(t *testing.T) {
	a, addrA := testNode(t, nil)
	c, _ := v5(t, addrA, &paho.Connect{ClientID: "ordered", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}, nil)
	sub5(t, c, "ord/#", 1)
	fromB, err := a.NewSubscriber(SubscriberOptions{Name: "B", Peer: true, Handle: func([]Delivery) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer fromB.Close()
	forward := func(payload string, tag uint16) {
		t.Helper()
		p := &codec.Publish{QoS: 1, PacketID: tag, Topic: []byte("ord/m"), Payload: []byte(payload)}
		if k := fromB.RouteFromPeer([]PeerMessage{{Publish: p, From: "p"}}); k != 1 {
			t.Fatalf("message %s routed to %d sessions, want 1", payload, k)
		}
	}
	oc := a.ownerOf("ordered")
	if oc == nil {
		t.Fatal("the client's connection owns no session")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay := &Relay{n: a, at: time.Now()} // as HandOverRelay makes it
	entered, start, handed, release := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	held := make(chan []byte, 1)
	go func() {
		out, _ := runOnLoop(ctx, oc.loop, func() []byte {
			close(entered)
			<-start
			out, _ := a.handOverOnLoop(oc, "ordered", false, relay)
			close(handed)
			<-release
			return out
		})
		held <- out
	}()
	<-entered
	forward("1", 1) // the session is on the held loop: this one waits in its inbox
	close(start)
	<-handed
	forward("2", 2) // matched after the hand-over
	close(release)
	if out := <-held; out == nil {
		t.Fatal("the session was not handed over")
	}
	kept, dropped := relay.End(ctx)
	var got []string
	for _, q := range kept {
		got = append(got, string(q.Msg.Payload))
		q.Msg.Release()
	}
	if dropped != 0 || len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("relay kept %q (dropped %d), want [1 2]", got, dropped)
	}
}
