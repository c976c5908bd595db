package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func mctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestManageClients lists, filters, pages, looks up and kicks clients over real sockets.
func TestManageClients(t *testing.T) {
	n, addr := testNode(t, nil)
	before := time.Now()
	a, _ := mustConnect(t, addr, codec.V5, "a", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.KeepAlive = true, []byte("alice"), 42
		c.Props.SetSessionExpiry(300)
	})
	b, _ := mustConnect(t, addr, codec.V311, "b", func(c *codec.Connect) { c.CleanStart = false })
	if codes := a.subscribe(1, 0, sub("x/+", 1), sub("y", 0)); len(codes) != 2 {
		t.Fatalf("suback %v", codes)
	}

	page, err := n.Clients(mctx(t), ClientQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 || len(page.Clients) != 2 {
		t.Fatalf("clients %+v", page)
	}
	ca := page.Clients[0]
	if ca.ClientID != "a" {
		ca = page.Clients[1]
	}
	local := netip.MustParseAddrPort(a.c.LocalAddr().(*net.TCPAddr).String())
	if ca.Username != "alice" || ca.Peer != local || ca.Listener != "external" || ca.ProtoVersion != codec.V5 ||
		ca.KeepAlive != 42 || !ca.CleanStart || ca.ExpiryInterval != 300 || ca.Subscriptions != 2 ||
		ca.ConnectedAt.Before(before.Add(-time.Second)) || ca.ConnectedAt.After(time.Now()) || ca.MaxInflight == 0 {
		t.Fatalf("client a %+v (peer want %v)", ca, local)
	}

	f := func(q ClientQuery, want ...string) {
		t.Helper()
		p, err := n.Clients(mctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range p.Clients {
			got = append(got, c.ClientID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Clients(%+v) = %v, want %v", q, got, want)
		}
	}
	no := false
	f(ClientQuery{Username: "alice"}, "a")
	f(ClientQuery{ProtoVersion: codec.V311}, "b")
	f(ClientQuery{CleanStart: &no}, "b")
	f(ClientQuery{LikeClientID: "b"}, "b")
	f(ClientQuery{IP: netip.MustParseAddr("127.0.0.2")})
	f(ClientQuery{Offset: 1}, "b") // ordered by connection time: a first
	f(ClientQuery{Limit: 1}, "a")

	if c, err := n.Client(mctx(t), "b"); err != nil || c.ProtoVersion != codec.V311 || c.CleanStart {
		t.Fatalf("Client(b) = %+v, %v", c, err)
	}
	if _, err := n.Client(mctx(t), "nobody"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("Client(nobody): %v", err)
	}

	// Kick: DISCONNECT 0x98 for MQTT 5, a plain close for 3.1.1; a's session (expiry 300)
	// stays, offline.
	if err := n.Kick(mctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	a.closedWith(codec.AdministrativeAction)
	if err := n.Kick(mctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	b.closedSilently()
	waitConns(t, n, 0)
	if _, err := n.Client(mctx(t), "a"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("Client(a) after kick: %v", err)
	}
	if err := n.Kick(mctx(t), "a"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("Kick(a) again: %v", err)
	}
	s, err := n.Session("a")
	if err != nil || s.Connected || s.ExpiryInterval != 300 || s.Subscriptions != 2 || s.ExpiresAt.IsZero() {
		t.Fatalf("session a after kick: %+v, %v", s, err)
	}
}

// TestManageSessions lists online and offline sessions with their filters.
func TestManageSessions(t *testing.T) {
	n, addr := testNode(t, nil)
	off, _ := mustConnect(t, addr, codec.V5, "off", func(c *codec.Connect) { c.Props.SetSessionExpiry(600) })
	off.disconnect(0, nil)
	mustConnect(t, addr, codec.V5, "on", nil)
	waitConns(t, n, 1)
	waitFor(t, 5*time.Second, "off's session offline", func() bool {
		s, err := n.Session("off")
		return err == nil && !s.Connected
	})
	f := func(q SessionQuery, want ...string) {
		t.Helper()
		var got []string
		for _, s := range n.Sessions(q).Sessions {
			got = append(got, s.ClientID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Sessions(%+v) = %v, want %v", q, got, want)
		}
	}
	yes, no := true, false
	f(SessionQuery{}, "off", "on")
	f(SessionQuery{Persistent: &yes}, "off")
	f(SessionQuery{Persistent: &no}, "on")
	f(SessionQuery{Connected: &yes}, "on")
	f(SessionQuery{Offset: 1, Limit: 5}, "on")
	if _, err := n.Session("none"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Session(none): %v", err)
	}
}

// TestManageSubscribe adds and removes subscriptions for an online client (retained messages
// replayed, routes and topics listed) and for an offline session (messages queued for it).
func TestManageSubscribe(t *testing.T) {
	n, addr := testNode(t, nil)
	pub, _ := mustConnect(t, addr, codec.V5, "pub", nil)
	pub.publish(&codec.Publish{Topic: []byte("r/1"), Payload: []byte("kept"), Retain: true})
	s, _ := mustConnect(t, addr, codec.V5, "s", nil)
	waitFor(t, 5*time.Second, "retained stored", func() bool { return n.retained.Len() == 1 })

	if err := n.SubscribeClient(mctx(t), "s", "r/+", 1); err != nil {
		t.Fatal(err)
	}
	if p := s.recvPublish(); string(p.Topic) != "r/1" || string(p.Payload) != "kept" || !p.Retain {
		t.Fatalf("retained replay %+v", p)
	}
	subs, err := n.ClientSubscriptions("s")
	if err != nil || len(subs) != 1 || subs[0].Filter != "r/+" || subs[0].Options.QoS != 1 {
		t.Fatalf("subscriptions of s: %+v, %v", subs, err)
	}
	pub.publish(&codec.Publish{Topic: []byte("r/2"), Payload: []byte("live")})
	if p := s.recvPublish(); string(p.Topic) != "r/2" || string(p.Payload) != "live" {
		t.Fatalf("live %+v", p)
	}
	routes := n.Routes()
	if len(routes) != 1 || routes[0].Filter != "r/+" || routes[0].Node != "emqx@127.0.0.1" || routes[0].Subscribers != 1 || !slices.Equal(routes[0].ClientIDs, []string{"s"}) {
		t.Fatalf("routes %+v", routes)
	}
	if topics := n.Topics(); !slices.Equal(topics, []string{"r/+"}) {
		t.Fatalf("topics %v", topics)
	}
	if total, all := n.Subscriptions(0, 0); total != 1 || all[0].ClientID != "s" {
		t.Fatalf("all subscriptions %d %+v", total, all)
	}

	if existed, err := n.UnsubscribeClient(mctx(t), "s", "r/+"); err != nil || !existed {
		t.Fatalf("unsubscribe: %v %v", existed, err)
	}
	if existed, err := n.UnsubscribeClient(mctx(t), "s", "r/+"); err != nil || existed {
		t.Fatalf("unsubscribe again: %v %v", existed, err)
	}
	pub.publish(&codec.Publish{Topic: []byte("r/3"), Payload: []byte("gone")})
	s.silent(200 * time.Millisecond)
	if routes := n.Routes(); len(routes) != 0 {
		t.Fatalf("routes after unsubscribe %+v", routes)
	}

	// Offline: the subscription takes effect for the session; the message waits for it.
	off, _ := mustConnect(t, addr, codec.V5, "off", func(c *codec.Connect) { c.Props.SetSessionExpiry(600) })
	off.disconnect(0, nil)
	waitFor(t, 5*time.Second, "off offline", func() bool { s, err := n.Session("off"); return err == nil && !s.Connected })
	if err := n.SubscribeClient(mctx(t), "off", "q/#", 1); err != nil {
		t.Fatal(err)
	}
	pub.publish(&codec.Publish{Topic: []byte("q/a"), Payload: []byte("queued"), QoS: 1, PacketID: 7})
	pub.recvAck(codec.TypePuback)
	if si, _ := n.Session("off"); si.QueueLen != 1 {
		t.Fatalf("off's queue %+v", si)
	}
	back, ack := mustConnect(t, addr, codec.V5, "off", func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(600) })
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	if p := back.recvPublish(); string(p.Topic) != "q/a" || string(p.Payload) != "queued" {
		t.Fatalf("queued %+v", p)
	}

	if err := n.SubscribeClient(mctx(t), "nobody", "a", 0); !errors.Is(err, ErrNoSession) {
		t.Fatalf("nobody: %v", err)
	}
	if err := n.SubscribeClient(mctx(t), "s", "a", 3); !errors.Is(err, ErrBadQoS) {
		t.Fatalf("qos 3: %v", err)
	}
	if err := n.SubscribeClient(mctx(t), "s", "a/#/b", 0); err == nil {
		t.Fatal("a/#/b accepted")
	}
}
