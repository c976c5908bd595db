package cluster_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/service/cluster"
)

// rpcRecord is one record of an RPC bridge batch: uvarint length, MQTT 5 PUBLISH.
func rpcRecord(dst []byte, p *codec.Publish) []byte {
	pkt := codec.AppendPublish(nil, p, codec.V5)
	dst = binary.AppendUvarint(dst, uint64(len(pkt)))
	return append(dst, pkt...)
}

// TestRPCListener runs the RPC listener of an in-process node against a raw NATS client: the
// cookie is the password, the bridge user may publish only batches, a batch's messages are
// published on the node (properties, QoS and RETAIN kept) before the empty reply, and a batch
// that does not decode gets an error reply.
func TestRPCListener(t *testing.T) {
	cfg := &engine.Config{NodeName: "emqx2@127.0.0.1", SharedStrategy: "round_robin", LoopCount: 1,
		Listeners: []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), Zone: engine.DefaultZone(), MaxConnections: 10}}}
	n, err := engine.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Stop(ctx)
	}()
	got := make(chan engine.Delivery, 10)
	sub, err := n.NewSubscriber(engine.SubscriberOptions{Name: "probe", Handle: func(ds []engine.Delivery) {
		for _, d := range ds {
			d.Msg.Hold()
			got <- d
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("m/#", engine.SubscribeOptions{QoS: 2, RetainAsPublished: true}); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	srv, err := cluster.ListenRPC(n, cluster.RPCOptions{Listen: addr, Cookie: "secret", NodeName: cfg.NodeName})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	if nc, err := nats.Connect("nats://"+addr, nats.UserInfo(cluster.RPCUser, "wrong")); err == nil {
		nc.Close()
		t.Fatal("a wrong cookie connected")
	} else if !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("wrong cookie: %v", err)
	}
	asyncErr := make(chan error, 4)
	nc, err := nats.Connect("nats://"+addr, nats.UserInfo(cluster.RPCUser, "secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Only batches: any other subject is refused.
	nc.Publish("emqgo.cast", []byte("x"))
	select {
	case err := <-asyncErr:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Fatalf("publish to emqgo.cast: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publishing outside the RPC subject was not refused")
	}

	var body []byte
	p1 := codec.Publish{Topic: []byte("m/1"), Payload: []byte("one"), QoS: 1, PacketID: 1}
	p1.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	body = rpcRecord(body, &p1)
	p2 := codec.Publish{Topic: []byte("m/2"), Payload: make([]byte, 300), Retain: true}
	body = rpcRecord(body, &p2)
	// Deeper than the index allows: refused by the node, skipped, the batch goes on.
	body = rpcRecord(body, &codec.Publish{Topic: []byte(strings.Repeat("d/", 200) + "x"), Payload: []byte("skipped")})
	body = rpcRecord(body, &codec.Publish{Topic: []byte("m/3"), Payload: []byte("three")})
	reply, err := nc.Request(cluster.SubjectRPCPublish, body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := reply.Header.Get(cluster.RPCErrorHeader); e != "" {
		t.Fatalf("batch refused: %s", e)
	}
	for _, want := range []struct {
		topic  string
		qos    uint8
		retain bool
		size   int
	}{{"m/1", 1, false, 3}, {"m/2", 0, true, 300}, {"m/3", 0, false, 5}} {
		select {
		case d := <-got:
			if string(d.Msg.Topic) != want.topic || d.QoS != want.qos || d.Retain != want.retain || len(d.Msg.Payload) != want.size {
				t.Fatalf("delivered %s qos %d retain %v %d bytes, want %+v", d.Msg.Topic, d.QoS, d.Retain, len(d.Msg.Payload), want)
			}
			if want.topic == "m/1" && (d.Msg.Props == nil || len(d.Msg.Props.User) != 1 || string(d.Msg.Props.User[0].Value) != "v") {
				t.Fatalf("user property lost: %+v", d.Msg.Props)
			}
			d.Msg.Release()
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not published on the node", want.topic)
		}
	}
	if srv.Received() != 3 {
		t.Fatalf("Received = %d, want 3", srv.Received())
	}

	// A record that does not decode is skipped too; the next one is published.
	body = rpcRecord(nil, &codec.Publish{Topic: []byte("m/+")})
	body = rpcRecord(body, &codec.Publish{Topic: []byte("m/4"), Payload: []byte("four")})
	reply, err = nc.Request(cluster.SubjectRPCPublish, body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := reply.Header.Get(cluster.RPCErrorHeader); e != "" {
		t.Fatalf("batch with an undecodable record refused: %s", e)
	}
	select {
	case d := <-got:
		if string(d.Msg.Topic) != "m/4" {
			t.Fatalf("delivered %s, want m/4", d.Msg.Topic)
		}
		d.Msg.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("m/4 not published")
	}

	// Broken framing refuses the batch.
	reply, err = nc.Request(cluster.SubjectRPCPublish, []byte{0x05, 0x30}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := reply.Header.Get(cluster.RPCErrorHeader); !strings.Contains(e, "bad length") {
		t.Fatalf("malformed batch: error header %q", e)
	}
}
