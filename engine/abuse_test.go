package engine

import (
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// Abuse bounds (issue #17): each test drives one kind of abuse over real sockets and logs the
// figure it measures (`go test -v -run TestAbuse ./engine/`); engine/reliability.md tables them.
// Memory figures are the process's live heap after a collection, so they include the test's
// own client sockets (a few hundred bytes each); counts are scaled down under -short and -race.

// liveHeap returns the live heap after two collections.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// scaled returns full, or short under -short and the race detector (which slows the broker
// about tenfold: the full counts would not finish in time).
func scaled(full, short int) int {
	if testing.Short() || raceEnabled {
		return short
	}
	return full
}

// fenceQoS1 publishes a QoS 1 message on c (a raw v5 client) and waits for its PUBACK: the
// broker handles a connection's packets in order, so everything c sent before is handled. It
// waits up to a minute: the batch before it may be 100,000 packets under the race detector on
// a loaded machine, and the wait only bounds a hang.
func fenceQoS1(c *client, id uint16) {
	c.t.Helper()
	c.publish(&codec.Publish{Topic: []byte("fence"), QoS: 1, PacketID: id})
	for {
		h, pkt := c.packetWithin(time.Minute)
		if h.Type == codec.TypePuback {
			var a codec.Ack
			if err := a.Decode(pkt, c.v); err == nil && a.PacketID == id {
				return
			}
		}
	}
}

// Connections that never finish their CONNECT (a partial CONNECT, or one trickled a byte at a
// time) cost a bounded amount of memory each and are closed at idle_timeout.
func TestAbuseSlowloris(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.IdleTimeout = 1500 * time.Millisecond
		c.Listeners[0].MaxConnections = 20000
	})
	conns := scaled(1000, 200)
	connect := connectPacket(codec.V5, "slow", nil)
	before := liveHeap()
	socks := make([]net.Conn, conns)
	for i := range socks {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(connect[:len(connect)/2]); err != nil { // half a CONNECT
			t.Fatal(err)
		}
		socks[i] = c
	}
	waitConns(t, n, int64(conns))
	time.Sleep(200 * time.Millisecond) // every partial CONNECT read
	per := (liveHeap() - before) / int64(conns)
	t.Logf("slowloris: %d connections with half a CONNECT: %d bytes of heap each (client socket included)", conns, per)
	if per > 16<<10 {
		t.Errorf("%d bytes per half-open connection, want at most 16 KiB", per)
	}
	// One more trickles its CONNECT a byte every 100 ms: bytes are not packets, so it is
	// closed at idle_timeout like the others.
	trickle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(connect)-1; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := trickle.Write(connect[i : i+1]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for _, c := range append(socks, trickle) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("half-open connection not closed by idle_timeout: %v", err)
		}
	}
	waitConns(t, n, 0)
	t.Logf("slowloris: all closed %v after the last opened (idle_timeout 1.5s)", time.Since(start).Round(100*time.Millisecond))
	if got := metric(n, "connections.idle_timeout"); got < uint64(conns) {
		t.Errorf("connections.idle_timeout %d, want at least %d", got, conns)
	}
}

// A remaining length announcing 256 MB reserves nothing before the bytes arrive: memory
// follows what was received. Over max_packet_size the header alone is refused (0x95).
func TestAbuseHugeRemainingLength(t *testing.T) {
	hdr := []byte{0x30, 0xff, 0xff, 0xff, 0x7f} // PUBLISH, remaining length 268,435,455
	t.Run("refused", func(t *testing.T) {
		_, addr := testNode(t, nil) // max_packet_size 1MB
		c, _ := connectRaw(t, addr, codec.V5, "huge", nil)
		before := liveHeap()
		c.send(hdr)
		if code := c.disconnectPacket(); code != codec.PacketTooLarge {
			t.Fatalf("DISCONNECT %v, want 0x95", code)
		}
		t.Logf("256 MB announced, max_packet_size 1MB: refused at the header, heap %+d bytes", liveHeap()-before)
	})
	t.Run("accepted", func(t *testing.T) {
		n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxPacketSize = 256 << 20 })
		c, _ := connectRaw(t, addr, codec.V5, "huge", nil)
		before := liveHeap()
		// PUBLISH, remaining length 255 MiB: within the 256 MB maximum.
		c.send(codec.AppendVarint([]byte{0x30}, 255<<20))
		const sent = 2 << 20
		c.send(make([]byte, sent))
		c.silent(300 * time.Millisecond) // still open, reading
		grew := liveHeap() - before
		t.Logf("255 MB announced under max_packet_size 256MB, 2 MB sent: heap %+d bytes (%.2f× the bytes received)", grew, float64(grew)/sent)
		if grew > 8*sent { // the read buffer doubles as it grows; 255 MB would show here
			t.Errorf("heap grew %d bytes for %d bytes received: memory was reserved ahead", grew, sent)
		}
		c.c.Close()
		waitConns(t, n, 0)
	})
}

// One client subscribing 100,000 filters is stopped at max_subscriptions (SUBACK 0x97 for the
// rest); the subscription index's growth per entry is measured.
func TestAbuseManySubscriptions(t *testing.T) {
	const limit = 1000
	n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxSubscriptions = limit })
	filters := scaled(100000, 10000)
	c, _ := connectRaw(t, addr, codec.V5, "greedy", nil)
	before := liveHeap()
	granted, refused := 0, 0
	const perPacket = 500
	for id := 1; (id-1)*perPacket < filters; id++ {
		s := &codec.Subscribe{PacketID: uint16(id)}
		for k := 0; k < perPacket; k++ {
			i := (id-1)*perPacket + k
			s.Subs = append(s.Subs, codec.Subscription{Filter: []byte("tenant/" + strconv.Itoa(i%97) + "/device/" + strconv.Itoa(i) + "/#"), QoS: 1})
		}
		c.send(codec.AppendSubscribe(nil, s, codec.V5))
		var ack codec.Suback
		if err := ack.Decode(c.expect(codec.TypeSuback), codec.V5); err != nil {
			t.Fatal(err)
		}
		for _, code := range ack.Codes {
			switch code {
			case codec.GrantedQoS1:
				granted++
			case codec.QuotaExceeded:
				refused++
			default:
				t.Fatalf("SUBACK code %v", code)
			}
		}
	}
	grew := liveHeap() - before
	st := n.Stats()
	t.Logf("%d filters from one client, max_subscriptions %d: %d granted, %d refused (0x97); index holds %d; heap %+d bytes, %d per subscription",
		filters, limit, granted, refused, st.Subscriptions, grew, grew/int64(granted))
	if granted != limit || refused != filters-limit || st.Subscriptions != limit {
		t.Fatalf("granted %d, refused %d, index %d; want %d, %d, %d", granted, refused, st.Subscriptions, limit, filters-limit, limit)
	}
}

// One client publishing to 1,000,000 distinct topics leaves nothing behind: routing keeps no
// per-topic state for topics nobody subscribed to (the index grows with filters, not topics).
func TestAbuseDistinctTopics(t *testing.T) {
	n, addr := testNode(t, nil)
	topics := scaled(1000000, 100000)
	sub, _ := connectRaw(t, addr, codec.V5, "watcher", nil)
	sub.subscribe(1, 0, codec.Subscription{Filter: []byte("other/#")})
	c, _ := connectRaw(t, addr, codec.V5, "spray", nil)
	fenceQoS1(c, 1) // warm up the loop's buffers
	before := liveHeap()
	topicsBefore := n.Stats().Topics
	buf := make([]byte, 0, 1<<20)
	p := &codec.Publish{Payload: []byte("x")}
	start := time.Now()
	for i := 0; i < topics; i++ {
		p.Topic = strconv.AppendInt(append(p.Topic[:0], "spray/device/"...), int64(i), 10)
		buf = codec.AppendPublish(buf, p, codec.V5)
		if len(buf) > 1<<20-64 {
			c.send(buf)
			buf = buf[:0]
		}
	}
	c.send(buf)
	fenceQoS1(c, 2)
	took := time.Since(start)
	grew := liveHeap() - before
	t.Logf("%d distinct topics published in %v: heap %+d bytes (%.3f per topic); index filters %d → %d",
		topics, took.Round(time.Millisecond), grew, float64(grew)/float64(topics), topicsBefore, n.Stats().Topics)
	if grew > 4<<20 || n.Stats().Topics != topicsBefore {
		t.Fatalf("heap grew %d bytes / filters %d → %d after publishing to distinct topics", grew, topicsBefore, n.Stats().Topics)
	}
}

// A retained flood is bounded by retainer.max_retained_messages (further new topics are not
// retained) and max_payload_size (larger payloads are not retained); growth per retained
// message is measured.
func TestAbuseRetainedFlood(t *testing.T) {
	const keep, maxPayload = 2000, 1024
	n, addr := testNode(t, func(c *Config) {
		c.RetainerMaxMessages = keep
		c.RetainerMaxPayload = maxPayload
	})
	flood := scaled(50000, 10000)
	c, _ := connectRaw(t, addr, codec.V5, "flood", nil)
	fenceQoS1(c, 1)
	before := liveHeap()
	buf := make([]byte, 0, 1<<20)
	p := &codec.Publish{Retain: true, Payload: make([]byte, 100)}
	big := &codec.Publish{Retain: true, Topic: []byte("big/one"), Payload: make([]byte, maxPayload+1)}
	for i := 0; i < flood; i++ {
		p.Topic = strconv.AppendInt(append(p.Topic[:0], "flood/sensor/"...), int64(i), 10)
		buf = codec.AppendPublish(buf, p, codec.V5)
		if i%1000 == 0 {
			buf = codec.AppendPublish(buf, big, codec.V5)
		}
		if len(buf) > 1<<20-4096 {
			c.send(buf)
			buf = buf[:0]
		}
	}
	c.send(buf)
	fenceQoS1(c, 2)
	grew := liveHeap() - before
	held := n.Stats().Retained
	t.Logf("%d retained messages (100 B) to distinct topics, max_retained_messages %d: %d held, heap %+d bytes, %d per retained message; %d B payloads over max_payload_size %d not retained",
		flood, keep, held, grew, grew/max(held, 1), maxPayload+1, maxPayload)
	if held != keep {
		t.Fatalf("%d retained, want %d", held, keep)
	}
	// The large payload was never retained: a new subscriber to big/# gets nothing.
	r := newReceived()
	s, _ := v5(t, addr, &paho.Connect{ClientID: "late", CleanStart: true}, r)
	sub5(t, s, "big/#", 0)
	r.none(t, 300*time.Millisecond)
}

// force_shutdown_policy's count: a connected client whose session queue grows past it (it does
// not acknowledge, so its window stays full) is closed with 0x97, and counted.
func TestForceShutdownQueue(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.ForceShutdownQueue = 5
		c.Listeners[0].Zone.MaxInflight = 1
	})
	s, _ := connectRaw(t, addr, codec.V5, "stuck", nil)
	s.subscribe(1, 0, sub("q/t", 1))
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	for i := 0; i < 8; i++ {
		pub5(t, pub, "q/t", 1, "m"+strconv.Itoa(i))
	}
	s.recvPublish() // the one in flight, never acknowledged
	if code := s.disconnectPacket(); code != codec.QuotaExceeded {
		t.Fatalf("DISCONNECT %v, want 0x97", code)
	}
	waitFor(t, 5*time.Second, "force_shutdown counted", func() bool { return metric(n, "connections.force_shutdown") == 1 })
}
