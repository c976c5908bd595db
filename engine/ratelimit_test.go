package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

func TestConnLimiterBuckets(t *testing.T) {
	const sec = int64(time.Second)
	ls := &listenerState{Listener: Listener{Zone: &Zone{PublishLimit: Rate{Limit: 2, Per: time.Second}}}}
	if newConnLimiter(&listenerState{Listener: Listener{Zone: DefaultZone()}}, 0) != nil {
		t.Fatal("a limiter without any limit configured")
	}
	cl := newConnLimiter(ls, 0)
	take := func(typ codec.PacketType, size int, now int64, want int) {
		t.Helper()
		if got := cl.take(typ, size, now); got != want {
			t.Fatalf("take(%v, %d) at %v = %d, want %d", typ, size, time.Duration(now), got, want)
		}
	}
	take(codec.TypePublish, 10, 0, -1)
	take(codec.TypePingreq, 2, 0, -1) // not a message: never counted
	take(codec.TypePublish, 10, 0, -1)
	take(codec.TypePublish, 10, 0, int(limitPublish)) // the bucket holds one second's worth
	if cl.ready(sec / 4) {
		t.Fatal("ready after a quarter of a token")
	}
	if !cl.ready(sec / 2) {
		t.Fatal("not ready with a whole token")
	}
	take(codec.TypePublish, 10, sec/2, -1)
	cl.refund(codec.TypePublish, 10) // parked for the ACL: handled again without a second charge
	take(codec.TypePublish, 10, sec/2, -1)
	take(codec.TypePublish, 10, sec/2, int(limitPublish))
	take(codec.TypePublish, 10, 100*sec, -1) // a long pause refills to the bucket's size only
	take(codec.TypePublish, 10, 100*sec, -1)
	take(codec.TypePublish, 10, 100*sec, int(limitPublish))

	// Bytes: a packet larger than the bucket waits for a full bucket, then leaves it in debt.
	ls = &listenerState{Listener: Listener{Zone: DefaultZone(), RateLimit: Rate{Limit: 100, Per: time.Second, Burst: 50}}}
	cl = newConnLimiter(ls, 0)
	take(codec.TypeSubscribe, 40, 0, -1)
	take(codec.TypePublish, 200, 0, int(limitListenerBytes))
	if !cl.ready(sec * 4 / 10) {
		t.Fatal("not ready with a full bucket")
	}
	take(codec.TypePublish, 200, sec*4/10, -1)
	// 150 bytes in debt at 100 bytes/s: 1.52 s before a 2-byte packet.
	take(codec.TypePingreq, 2, sec*14/10, int(limitListenerBytes))
	if cl.ready(sec * 19 / 10) {
		t.Fatal("ready while the bucket is in debt")
	}
	if !cl.ready(sec * 2) {
		t.Fatal("not ready once the debt is paid")
	}
	take(codec.TypePingreq, 2, sec*2, -1)
}

// rateCase floods a node whose listener or zone mutate limits with QoS 0 publishes at ten
// times the limit, and checks that the subscriber receives them at the limit, in order, none
// lost, that the publisher stays connected and that a client on the same loop is not slowed.
func rateCase(t *testing.T, mutate func(*Listener), payload int, perSecond float64, counter string) {
	n, addr := testNode(t, func(c *Config) {
		c.LoopCount = 1 // the flood and the bystander share the loop
		z := *c.Listeners[0].Zone
		c.Listeners[0].Zone = &z
		mutate(&c.Listeners[0])
	})
	b := newBystander(t, addr, "by")
	r := newReceived()
	sub, _ := v5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	sub5(t, sub, "flood", 0)
	pub, _ := mustConnect(t, addr, codec.V5, "flooder", nil)

	var mu sync.Mutex
	var arrivals []time.Time
	stop := make(chan struct{})
	collected := make(chan struct{})
	next := 0
	go func() {
		defer close(collected)
		for {
			select {
			case p := <-r.ch:
				mu.Lock()
				if want := strconv.Itoa(next); string(p.Payload[:len(want)]) != want {
					t.Errorf("message %q, want %s next: lost or out of order", p.Payload[:8], want)
				}
				next++
				arrivals = append(arrivals, time.Now())
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()

	const flood = 2500 * time.Millisecond
	interval := time.Duration(float64(time.Second) / (10 * perSecond))
	start := time.Now()
	sent := 0
	for time.Since(start) < flood {
		body := make([]byte, payload)
		copy(body, fmt.Sprintf("%-8d", sent))
		pub.publish(&codec.Publish{Topic: []byte("flood"), Payload: body})
		sent++
		if sent%int(10*perSecond) == 0 { // once a second: the other client on the loop is served
			b.check()
		}
		time.Sleep(time.Until(start.Add(time.Duration(sent) * interval)))
	}

	// The rate over the flood's last two seconds (the first half second spends the bucket
	// filled at the start).
	mu.Lock()
	from, to := start.Add(flood-2*time.Second), start.Add(flood)
	inWindow := 0
	for _, at := range arrivals {
		if !at.Before(from) && at.Before(to) {
			inWindow++
		}
	}
	total := len(arrivals)
	mu.Unlock()
	rate := float64(inWindow) / 2
	t.Logf("%d sent, %d delivered, %.1f/s over the last 2s (limit %.1f/s)", sent, total, rate, perSecond)
	if rate < 0.7*perSecond || rate > 1.3*perSecond {
		t.Errorf("delivered %.1f messages/s under a limit of %.1f/s (sent %.1f/s)", rate, perSecond, float64(sent)/flood.Seconds())
	}
	if total >= sent {
		t.Errorf("all %d messages delivered during the flood: not throttled", sent)
	}

	// The publisher is throttled, not disconnected: its waiting messages keep coming.
	waitFor(t, 5*time.Second, "more of the waiting messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals) > total
	})
	_ = pub.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := pub.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("publisher's connection: %v, want it open and silent", err)
	}
	close(stop)
	<-collected
	if got := n.Stats().Connections; got != 4 {
		t.Errorf("%d connections, want 4 (bystander's two, subscriber, publisher)", got)
	}
	if metric(n, counter) == 0 {
		t.Errorf("%s = 0", counter)
	}
	if got := metric(n, "connections.throttled.closed"); got != 0 {
		t.Errorf("connections.throttled.closed = %d", got)
	}
	b.check()
}

func TestRateLimitsThrottle(t *testing.T) {
	t.Run("publish_limit", func(t *testing.T) {
		rateCase(t, func(l *Listener) { l.Zone.PublishLimit = Rate{Limit: 20, Per: time.Second} },
			16, 20, "connections.throttled.publish_limit")
	})
	t.Run("conn_messages_in", func(t *testing.T) {
		rateCase(t, func(l *Listener) { l.Zone.ConnMessagesIn = Rate{Limit: 40, Per: 2 * time.Second} },
			16, 20, "connections.throttled.conn_messages_in")
	})
	// A PUBLISH of topic "flood" and a 93-byte payload is 2+2+5+1+93 = 103 bytes.
	t.Run("conn_bytes_in", func(t *testing.T) {
		rateCase(t, func(l *Listener) { l.Zone.ConnBytesIn = Rate{Limit: 2060, Per: time.Second} },
			93, 20, "connections.throttled.conn_bytes_in")
	})
	t.Run("listener rate_limit", func(t *testing.T) {
		rateCase(t, func(l *Listener) { l.RateLimit = Rate{Limit: 2060, Per: time.Second, Burst: 4096} },
			93, 20, "connections.throttled.rate_limit")
	})
}

// A throttled client whose packets wait is not idle: keep alive does not close it.
func TestThrottledKeepsAlive(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].Zone.PublishLimit = Rate{Limit: 1, Per: time.Minute}
	})
	pub, _ := mustConnect(t, addr, codec.V5, "slowed", func(c *codec.Connect) { c.KeepAlive = 1 })
	for range 3 {
		pub.publish(&codec.Publish{Topic: []byte("t"), Payload: []byte("x")})
	}
	pub.send(codec.AppendPingreq(nil))
	waitFor(t, 2*time.Second, "the publisher throttled", func() bool { return metric(n, "connections.throttled.publish_limit") > 0 })
	// Keep alive 1 s is enforced at 1.5 s; the PINGREQ waits behind the throttled publishes.
	_ = pub.c.SetReadDeadline(time.Now().Add(2500 * time.Millisecond))
	if _, err := pub.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("throttled publisher's connection: %v, want it open and silent", err)
	}
	if got := metric(n, "connections.keepalive_timeout"); got != 0 {
		t.Fatalf("connections.keepalive_timeout = %d", got)
	}
}

// A client that keeps flooding while throttled fills its parked input to the bound (one
// packet of the zone's maximum size, at least 64 KiB) and is closed: gnet keeps reading its
// socket, so memory, not TCP backpressure, has to stop it (see ratelimit.go).
func TestThrottledFloodIsBounded(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.LoopCount = 1
		c.Listeners[0].Zone.MaxPacketSize = 64 << 10
		c.Listeners[0].Zone.PublishLimit = Rate{Limit: 1, Per: time.Minute}
		c.Listeners = append(c.Listeners, Listener{Kind: "tcp", Name: "internal", Addr: "127.0.0.1:0", Zone: DefaultZone()})
	})
	b := newBystander(t, n.Addr("internal"), "by") // on the same loop, without the limit
	c, _ := mustConnect(t, addr, codec.V5, "flood", nil)
	chunk := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 16<<10)}, codec.V5)
	go func() {
		for range 64 { // 1 MiB in all, far above the bound
			if _, err := c.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c.r); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the broker kept buffering the input of a throttled connection")
	}
	waitConns(t, n, 2)
	waitFor(t, 2*time.Second, "connections.throttled.closed = 1", func() bool { return metric(n, "connections.throttled.closed") == 1 })
	b.check()
}
