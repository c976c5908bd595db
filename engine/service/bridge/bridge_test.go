package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// remote is a broker a bridge connects to: mosquitto or a second node of ours.
type remote struct {
	name          string
	addr, tlsAddr string
}

func remotes(t *testing.T) []func(t *testing.T) remote {
	return []func(t *testing.T) remote{
		func(t *testing.T) remote {
			m := startMosquitto(t, "")
			return remote{name: "mosquitto", addr: m.addr(), tlsAddr: m.tlsAddr()}
		},
		func(t *testing.T) remote {
			_, addr, tlsAddr := startNode(t, "remote@127.0.0.1")
			return remote{name: "emqgo", addr: addr, tlsAddr: tlsAddr}
		},
	}
}

func baseConfig(addr string, v codec.Version) Config {
	return Config{
		Name: "aws", Address: addr, Version: v, ClientID: fmt.Sprintf("bridge_test_%d", v), CleanStart: true,
		BridgeMode: true, KeepAlive: 10 * time.Second, ReconnectInterval: 200 * time.Millisecond,
		RetryInterval: time.Second, AutoStart: true,
	}
}

// TestForwardAndSubscribe: against mosquitto and our own broker, over MQTT 3.1.1 and 5, TCP
// and TLS: local messages of the forwards reach the remote under the mountpoint (QoS and
// retain kept), remote messages of the subscriptions are published locally, and a topic
// bridged both ways does not loop.
func TestForwardAndSubscribe(t *testing.T) {
	for ri, mk := range remotes(t) {
		for _, v := range []codec.Version{codec.V311, codec.V5} {
			for _, useTLS := range []bool{false, true} {
				name := fmt.Sprintf("remote=%d/v=%d/tls=%v", ri, v, useTLS)
				t.Run(name, func(t *testing.T) {
					r := mk(t)
					local, localAddr, _ := startNode(t, "edge@127.0.0.1")
					cfg := baseConfig(r.addr, v)
					if useTLS {
						cfg.Address = r.tlsAddr
						cfg.TLS = clientTLS(t)
					}
					cfg.Forwards = []string{"sensor/#", "both/#"}
					cfg.Mountpoint = "bridge/edge/"
					cfg.Subscriptions = []Subscription{{Topic: "cmd/#", QoS: 1}, {Topic: "bridge/edge/both/#", QoS: 1}}
					set := openSet(t, local, cfg, "")
					b := set.Bridge("aws")
					waitFor(t, "the bridge to connect", func() bool { return b.State() == Connected })

					remoteSub := connectClient(t, r.addr, "remote-sub")
					remoteSub.subscribe(t, "bridge/edge/#", 1)
					localSub := connectClient(t, localAddr, "local-sub")
					localSub.subscribe(t, "cmd/#", 1)
					localSub.subscribe(t, "both/#", 1)
					time.Sleep(100 * time.Millisecond) // the bridge's SUBSCRIBE reached the remote

					localPub := connectClient(t, localAddr, "local-pub")
					localPub.publish(t, "sensor/1", 1, false, "t=21")
					localPub.publish(t, "sensor/2", 0, false, "t=22")
					localPub.publish(t, "other/1", 1, false, "not forwarded")
					remoteSub.expect(t, "bridge/edge/sensor/1", "t=21")
					m := remoteSub.expect(t, "bridge/edge/sensor/2", "t=22")
					if m.Qos() != 0 {
						t.Errorf("QoS 0 message arrived with QoS %d", m.Qos())
					}

					remotePub := connectClient(t, r.addr, "remote-pub")
					remotePub.publish(t, "cmd/reboot", 1, false, "now")
					localSub.expect(t, "cmd/reboot", "now")

					// both/#: forwarded as bridge/edge/both/x, which the bridge also subscribes to
					// at the remote: it comes back once, is published locally, and is not
					// forwarded again.
					localPub.publish(t, "both/x", 1, false, "ping")
					remoteSub.expect(t, "bridge/edge/both/x", "ping")
					waitFor(t, "3 messages acknowledged", func() bool { return b.Metrics().Sent >= 3 })
					remoteSub.quiet(t, 300*time.Millisecond)
					if m := b.Metrics(); m.Sent != 3 {
						t.Errorf("bridge sent %d messages, want 3 (a loop sends more): %+v", m.Sent, m)
					}
					// The loop back: bridge/edge/both/x came back and was published locally, where
					// nobody subscribes to it; localSub has its own both/x once.
					localSub.expect(t, "both/x", "ping")
					localSub.quiet(t, 100*time.Millisecond)
					if m := b.Metrics(); m.Received < 1 || m.Queued != 0 || m.Dropped != 0 {
						t.Errorf("metrics %+v", m)
					}
				})
			}
		}
	}
}

// TestNoEchoLoop: a topic forwarded without mountpoint and subscribed at the remote too
// (both directions on the same topic): a local message reaches the remote once, comes back
// at most once, and is not forwarded again.
func TestNoEchoLoop(t *testing.T) {
	for _, mk := range remotes(t) {
		for _, v := range []codec.Version{codec.V311, codec.V5} {
			r := mk(t)
			t.Run(fmt.Sprintf("%s/v=%d", r.name, v), func(t *testing.T) {
				local, localAddr, _ := startNode(t, "edge@127.0.0.1")
				cfg := baseConfig(r.addr, v)
				cfg.Forwards = []string{"loop/#"}
				cfg.Subscriptions = []Subscription{{Topic: "loop/#", QoS: 1}}
				set := openSet(t, local, cfg, "")
				b := set.Bridge("aws")
				waitFor(t, "the bridge to connect", func() bool { return b.State() == Connected })
				remoteSub := connectClient(t, r.addr, "remote-sub")
				remoteSub.subscribe(t, "loop/#", 1)
				time.Sleep(100 * time.Millisecond)
				localPub := connectClient(t, localAddr, "local-pub")
				localPub.publish(t, "loop/1", 1, false, "once")
				remoteSub.expect(t, "loop/1", "once")
				remoteSub.quiet(t, 500*time.Millisecond)
				if m := b.Metrics(); m.Sent != 1 {
					t.Fatalf("bridge sent %d, want 1: %+v", m.Sent, m)
				}
			})
		}
	}
}

// TestRetainAndQoS2: the retain flag and QoS 2 are carried to the remote.
func TestRetainAndQoS2(t *testing.T) {
	m := startMosquitto(t, "")
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	cfg := baseConfig(m.addr(), codec.V5)
	cfg.Forwards = []string{"state/#"}
	b := openSet(t, local, cfg, "").Bridge("aws")
	waitFor(t, "the bridge to connect", func() bool { return b.State() == Connected })
	pub := connectClient(t, localAddr, "pub")
	pub.publish(t, "state/door", 2, true, "open")
	waitFor(t, "the remote's acknowledgement", func() bool { return b.Metrics().Sent == 1 && b.Metrics().Queued == 0 })
	sub := connectClient(t, m.addr(), "late-sub")
	sub.subscribe(t, "state/#", 2)
	got := sub.expect(t, "state/door", "open")
	if !got.Retained() || got.Qos() != 2 {
		t.Fatalf("retained=%v qos=%d at the remote, want a retained QoS 2 message", got.Retained(), got.Qos())
	}
}

// TestOutageNoLoss: with the remote down, QoS 1 messages wait in the durable queue; the
// bridge's node is closed and opened again (a restart); when the remote comes back every
// message arrives, in order.
func TestOutageNoLoss(t *testing.T) {
	m := startMosquitto(t, "")
	m.stop()
	dir := t.TempDir()
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	cfg := baseConfig(m.addr(), codec.V311)
	cfg.Forwards = []string{"data/#"}
	cfg.QueueDir = filepath.Join(dir, "queue")
	cfg.SegmentBytes = 64 << 10
	set, err := Open(Options{Node: local}, []Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	pub := connectClient(t, localAddr, "pub")
	for i := range n {
		pub.publish(t, "data/x", 1, false, fmt.Sprintf("%05d", i))
	}
	b := set.Bridge("aws")
	waitFor(t, "the messages to be queued", func() bool { return b.Metrics().Queued == n })
	if b.State() == Connected {
		t.Fatal("connected to a stopped remote")
	}
	set.Close()

	// Opened again without auto start: the remote's subscriber must be there before the
	// bridge sends (the remote drops messages nobody subscribes to).
	cfg.AutoStart = false
	set, err = Open(Options{Node: local}, []Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	b = set.Bridge("aws")
	if q := b.Metrics().Queued; q != n {
		t.Fatalf("after a restart %d messages are queued, want %d", q, n)
	}
	m.start()
	sub := connectClient(t, m.addr(), "sub")
	sub.subscribe(t, "data/#", 1)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < n {
		select {
		case msg := <-sub.ch:
			if want := fmt.Sprintf("%05d", got); string(msg.Payload()) != want {
				if string(msg.Payload()) < want {
					continue // a resend of an earlier one (at least once)
				}
				t.Fatalf("message %q arrived where %q was expected: order lost", msg.Payload(), want)
			}
			got++
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d messages arrived", got, n)
		}
	}
	waitFor(t, "the queue to empty", func() bool { return b.Metrics().Queued == 0 })
}

// TestOverflowDropsOldest: past queue.max_total_size the oldest messages are dropped and
// counted; the newest reach the remote.
func TestOverflowDropsOldest(t *testing.T) {
	m := startMosquitto(t, "")
	m.stop()
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	cfg := baseConfig(m.addr(), codec.V311)
	cfg.Forwards = []string{"data/#"}
	cfg.AutoStart = false
	cfg.MaxQueueBytes = 100 * 64 // about 100 messages of 64 bytes (the item holds a little more)
	b := openSet(t, local, cfg, "").Bridge("aws")
	pub := connectClient(t, localAddr, "pub")
	payload := strings.Repeat("x", 40)
	for i := range 300 {
		pub.publish(t, "data/x", 1, false, fmt.Sprintf("%05d%s", i, payload))
	}
	waitFor(t, "the drops", func() bool { mm := b.Metrics(); return mm.Queued+int(mm.Dropped) == 300 })
	mm := b.Metrics()
	if mm.Dropped < 150 || mm.Queued < 50 {
		t.Fatalf("metrics %+v: want most of 300 dropped and about 100 kept", mm)
	}
	m.start()
	sub := connectClient(t, m.addr(), "sub")
	sub.subscribe(t, "data/#", 1)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := <-sub.ch
	if want := fmt.Sprintf("%05d", mm.Dropped); string(first.Payload()[:5]) != want {
		t.Fatalf("first message after the outage is %q, want %s (the oldest kept)", first.Payload()[:5], want)
	}
}
