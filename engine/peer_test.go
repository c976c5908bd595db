package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// routeLog records WatchRoutes events.
type routeLog struct {
	mu     sync.Mutex
	events []string
}

func (r *routeLog) fn(filter string, added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if added {
		r.events = append(r.events, "+"+filter)
	} else {
		r.events = append(r.events, "-"+filter)
	}
}

func (r *routeLog) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// watchedNode starts a node whose routes are watched from the start.
func watchedNode(t *testing.T) (*Node, string, *routeLog) {
	t.Helper()
	cfg := &Config{
		NodeName:       "emqx@127.0.0.1",
		Listeners:      []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: DefaultZone(), MaxConnections: 100}},
		AllowAnonymous: true,
		ACLNoMatch:     acl.Allow,
		SharedStrategy: "round_robin",
		LoopCount:      2,
		SweepInterval:  100 * time.Millisecond,
	}
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := &routeLog{}
	if err := n.WatchRoutes(log.fn); err != nil {
		t.Fatal(err)
	}
	startMu.Lock()
	err = n.Start()
	startMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	if err := n.WatchRoutes(log.fn); err == nil {
		t.Fatal("WatchRoutes after Start accepted")
	}
	return n, n.Addr("external"), log
}

func TestWatchRoutesCountsLocalInterest(t *testing.T) {
	n, addr, log := watchedNode(t)
	c1, _ := v5(t, addr, &paho.Connect{ClientID: "w1", CleanStart: true}, nil)
	sub5(t, c1, "a/+", 1)
	sub5(t, c1, "$share/g/b", 1)
	c2, _ := v5(t, addr, &paho.Connect{ClientID: "w2", CleanStart: true}, nil)
	sub5(t, c2, "a/+", 0)
	peer, err := n.NewSubscriber(SubscriberOptions{Name: "peer", Peer: true, Handle: func([]Delivery) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := peer.Subscribe("p/#", SubscribeOptions{QoS: 2}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, []string{"+a/+", "+$share/g/b"}) {
		t.Fatalf("events %v", got)
	}
	if _, err := c1.Unsubscribe(ctx5(t), &paho.Unsubscribe{Topics: []string{"a/+"}}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("events %v after one of two unsubscribed", got)
	}
	c2.Disconnect(&paho.Disconnect{}) // its session ends with it
	waitFor(t, 5*time.Second, "the last a/+ to go", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return slices.Equal(log.events, []string{"-a/+"})
	})
	log.take()
	if got := n.LocalRoutes(); !slices.Equal(got, []string{"$share/g/b"}) {
		t.Fatalf("LocalRoutes %v", got)
	}
}

func TestRouteFromPeer(t *testing.T) {
	n, addr, _ := watchedNode(t)
	rPlain, rShared := newReceived(), newReceived()
	c1, _ := v5(t, addr, &paho.Connect{ClientID: "plain", CleanStart: true}, rPlain)
	sub5(t, c1, "x/#", 1)
	c2, _ := v5(t, addr, &paho.Connect{ClientID: "member", CleanStart: true}, rShared)
	sub5(t, c2, "$share/g/x/#", 1)
	got := newCollector()
	peer, err := n.NewSubscriber(SubscriberOptions{Name: "peer", Peer: true, Handle: got.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := peer.Subscribe("x/#", SubscribeOptions{QoS: 2}); err != nil {
		t.Fatal(err)
	}
	if err := peer.Subscribe("$share/g/x/#", SubscribeOptions{QoS: 2}); err != nil {
		t.Fatal(err)
	}
	p := &codec.Publish{QoS: 1, Topic: []byte("x/1"), Payload: []byte("plain")}
	p.Props.SetContentType([]byte("text/plain"))
	if k := peer.RouteFromPeer([]PeerMessage{{Publish: p, From: "elsewhere"}}); k != 1 {
		t.Fatalf("routed to %d, want the plain subscriber only", k)
	}
	if m := rPlain.expectMsg(t, "x/1", "plain"); m.Properties == nil || m.Properties.ContentType != "text/plain" || m.QoS != 1 {
		t.Fatalf("got %+v", m)
	}
	rShared.none(t, 200*time.Millisecond)
	g := &codec.Publish{QoS: 1, Topic: []byte("x/2"), Payload: []byte("group")}
	for range 3 { // whatever the round robin says, the peer member is never picked
		if k := peer.RouteFromPeer([]PeerMessage{{Publish: g, Group: "$share/g/x/#"}}); k != 1 {
			t.Fatalf("group routed to %d", k)
		}
		rShared.expectMsg(t, "x/2", "group")
	}
	rPlain.none(t, 200*time.Millisecond)
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.got) != 0 {
		t.Fatalf("a peer received a peer's message: %v", got.got)
	}
}
