package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// An on-loop subscriber gets what clients publish through OnLoop (in order per publisher,
// from both loops), and the retained messages of its subscribe time through Handle.
func TestInternalSubscriberOnLoop(t *testing.T) {
	n, addr := testNode(t, nil)
	if _, err := n.Publish("t/kept", []byte("retained"), 0, true, "test"); err != nil {
		t.Fatal(err)
	}
	onLoop, handled := newCollector(), newCollector()
	sub, err := n.NewSubscriber(SubscriberOptions{Name: "$internal/onloop", Handle: handled.handle, OnLoop: onLoop.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("t/#", SubscribeOptions{QoS: 1, Retained: true}); err != nil {
		t.Fatal(err)
	}
	if got := handled.wait(t, 1); string(got[0].Msg.Payload) != "retained" || !got[0].Retain {
		t.Fatalf("Handle got %q (retain %v), want the retained message", got[0].Msg.Payload, got[0].Retain)
	}
	pubs, per := publishNumbered(t, addr)
	got := onLoop.wait(t, per*len(pubs))
	checkOrderAndQoS(t, got)
	if extra := handled.wait(t, 0); len(extra) != 1 {
		t.Fatalf("Handle got %d deliveries, want only the retained one", len(extra))
	}
	// Closed: OnLoop is called no more, the clients carry on.
	sub.Close()
	pubs[0].publish(&codec.Publish{Topic: []byte("t/0"), Payload: []byte("after")})
	pubs[0].publish(&codec.Publish{QoS: 1, PacketID: 999, Topic: []byte("t/0"), Payload: []byte("after")})
	for pubs[0].recvAck(codec.TypePuback).PacketID != 999 { // the earlier ones first
	}
	time.Sleep(50 * time.Millisecond)
	if late := onLoop.wait(t, 0); len(late) != len(got) {
		t.Fatalf("%d deliveries after Close", len(late)-len(got))
	}
}

func TestInternalSubscriberOnLoopNotDurable(t *testing.T) {
	n, _ := testNode(t, nil)
	_, err := n.NewSubscriber(SubscriberOptions{Name: "both", Handle: func([]Delivery) {}, OnLoop: func([]Delivery) {}, Commit: func(done func(error)) { done(nil) }})
	if err == nil {
		t.Fatal("NewSubscriber accepted OnLoop with Commit")
	}
}
