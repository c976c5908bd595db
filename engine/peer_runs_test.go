package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// TestRouteFromPeerTopicRuns: RouteFromPeer matches a run of messages of one topic once;
// every message of a call still reaches exactly the subscribers of its own topic, in order,
// whether runs alternate, a shared-group message interrupts a run, or a run spans calls.
func TestRouteFromPeerTopicRuns(t *testing.T) {
	n, addr, _ := watchedNode(t)
	ra, rb, rg := newReceived(), newReceived(), newReceived()
	ca, _ := v5(t, addr, &paho.Connect{ClientID: "a", CleanStart: true}, ra)
	sub5(t, ca, "t/a", 0)
	cb, _ := v5(t, addr, &paho.Connect{ClientID: "b", CleanStart: true}, rb)
	sub5(t, cb, "t/+", 0)
	cg, _ := v5(t, addr, &paho.Connect{ClientID: "g", CleanStart: true}, rg)
	sub5(t, cg, "$share/g/t/a", 0)
	peer, err := n.NewSubscriber(SubscriberOptions{Name: "peer", Peer: true, Handle: func([]Delivery) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pub := func(topic string, i int) *codec.Publish {
		return &codec.Publish{Topic: []byte(topic), Payload: fmt.Appendf(nil, "%s-%d", topic, i)}
	}
	// a a b b a [group a] a : the plain deliveries of t/a go to a and b, of t/b to b only.
	msgs := []PeerMessage{
		{Publish: pub("t/a", 0)}, {Publish: pub("t/a", 1)},
		{Publish: pub("t/b", 2)}, {Publish: pub("t/b", 3)},
		{Publish: pub("t/a", 4)},
		{Publish: pub("t/a", 5), Group: "$share/g/t/a"},
		{Publish: pub("t/a", 6)},
	}
	if k := peer.RouteFromPeer(msgs); k != 11 {
		t.Fatalf("routed to %d subscriptions, want 11", k)
	}
	// The next call starts with the topic the last one ended with.
	if k := peer.RouteFromPeer([]PeerMessage{{Publish: pub("t/a", 7)}, {Publish: pub("t/c", 8)}}); k != 3 {
		t.Fatalf("second call routed to %d subscriptions, want 3", k)
	}
	for _, i := range []int{0, 1, 4, 6, 7} {
		ra.expectMsg(t, "t/a", fmt.Sprintf("t/a-%d", i))
	}
	for _, w := range []string{"t/a-0", "t/a-1", "t/b-2", "t/b-3", "t/a-4", "t/a-6", "t/a-7", "t/c-8"} {
		rb.expectMsg(t, w[:3], w)
	}
	rg.expectMsg(t, "t/a", "t/a-5")
	ra.none(t, 200*time.Millisecond)
	rb.none(t, 0)
	rg.none(t, 0)
}
