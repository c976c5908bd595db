package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// durableSub is an MQTT 3.1.1 clean-session-false subscriber that behaves as a correct QoS 2
// receiver across connections: a packet identifier it answered PUBREC for stays "received"
// until PUBREL, and a PUBLISH with such an identifier is a duplicate, not a new message.
type durableSub struct {
	mu       sync.Mutex
	got      []int        // payload sequence numbers in arrival order (duplicates of QoS 1 included)
	qos      map[int]byte // QoS each number arrived with
	awaiting map[uint16]bool
}

// session connects, subscribes the first time, and reads until the connection fails or
// quiet passes without a packet (quiet 0: until the connection fails). It returns whether
// the broker said session present.
func (d *durableSub) session(t *testing.T, port int, first bool, quiet time.Duration) (present bool, err error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false, err
	}
	defer c.Close()
	m := &mqttClient{c: c, r: bufio.NewReader(c)}
	c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, ClientID: []byte("sub"), KeepAlive: 60}))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pkt, err := m.read()
	if err != nil || pkt[0] != 0x20 || len(pkt) != 4 || pkt[3] != 0 {
		return false, fmt.Errorf("CONNACK % x: %v", pkt, err)
	}
	present = pkt[2]&1 != 0
	if first {
		c.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("crash/s"), QoS: 2}}}, codec.V311))
	}
	for {
		if quiet > 0 {
			c.SetReadDeadline(time.Now().Add(quiet))
		} else {
			c.SetReadDeadline(time.Time{})
		}
		pkt, err := m.read()
		if err != nil {
			return present, nil
		}
		switch codec.PacketType(pkt[0] >> 4) {
		case codec.TypePublish:
			var p codec.Publish
			if err := p.Decode(pkt, codec.V311); err != nil {
				return present, err
			}
			k, err := strconv.Atoi(string(p.Payload))
			if err != nil {
				return present, fmt.Errorf("payload %q", p.Payload)
			}
			d.mu.Lock()
			switch p.QoS {
			case 1:
				d.got = append(d.got, k)
				d.qos[k] = 1
				c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}, codec.V311))
			case 2:
				if !d.awaiting[p.PacketID] {
					d.got = append(d.got, k)
					d.qos[k] = 2
					d.awaiting[p.PacketID] = true
				}
				c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID}, codec.V311))
			default:
				d.mu.Unlock()
				return present, fmt.Errorf("QoS 0 delivery of %d", k)
			}
			d.mu.Unlock()
		case codec.TypePubrel:
			var a codec.Ack
			if err := a.Decode(pkt, codec.V311); err != nil {
				return present, err
			}
			d.mu.Lock()
			delete(d.awaiting, a.PacketID)
			d.mu.Unlock()
			c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePubcomp, PacketID: a.PacketID}, codec.V311))
		case codec.TypeSuback:
		default:
			return present, fmt.Errorf("unexpected packet % x", pkt)
		}
	}
}

// TestSessionSurvivesKill9: a publisher sends QoS 1 and QoS 2 messages numbered in order to a
// persistent subscriber, which is offline in some rounds and connected in others; the
// broker (fsync = always) is killed with SIGKILL at a random moment while it publishes, and
// restarted. At the end the subscriber reconnects and reads everything: every acknowledged
// QoS 2 message arrived exactly once, every acknowledged QoS 1 message at least once, first
// arrivals in publish order, nothing that was never published, and the one publish in flight
// at each kill at most once for QoS 2.
func TestSessionSurvivesKill9(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := persistEnv(t, work, "always")
	env = append(env, "EMQX_ZONE__EXTERNAL__MAX_MQUEUE_LEN=0", "EMQX_ZONE__INTERNAL__MAX_MQUEUE_LEN=0",
		// Small segments and thresholds: the store compacts all the time, so kills also land
		// in the middle of compactions.
		"EMQX_PERSISTENCE__SEGMENT_SIZE=64KB", "EMQX_PERSISTENCE__COMPACT_MIN_SIZE=64KB", "EMQX_PERSISTENCE__COMPACT_RATIO=20%")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	sub := &durableSub{qos: map[int]byte{}, awaiting: map[uint16]bool{}}

	nd := startNode(t, emqx, work, env, port)
	if present, err := sub.session(t, port, true, 300*time.Millisecond); err != nil || present {
		t.Fatalf("first subscriber session: present %v, %v", present, err)
	}
	acked := map[int]byte{} // number → QoS, acknowledged to the publisher
	inflight := map[int]byte{}
	next := 1
	deadline := time.Now().Add(15 * time.Second)
	for round := 0; round < 6 && (round < 3 || time.Now().Before(deadline)); round++ {
		if round > 0 {
			nd = startNode(t, emqx, work, env, port)
		}
		var subDone chan error
		if round%2 == 1 {
			subDone = make(chan error, 1)
			go func() {
				present, err := sub.session(t, port, false, 0)
				if err == nil && !present {
					err = fmt.Errorf("session not present")
				}
				subDone <- err
			}()
		}
		pub, err := dialMQTT(port, "publisher")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		pending := 0
		done := make(chan error, 1)
		go func() {
			for ; ; next++ {
				qos := byte(1 + next%2)
				id := uint16(next%65535 + 1)
				mu.Lock()
				pending = next
				mu.Unlock()
				if pub.publish("crash/s", strconv.Itoa(next), qos, false, id) != nil {
					done <- nil
					return
				}
				pkt, err := pub.read()
				if err != nil {
					done <- nil
					return
				}
				want := codec.TypePuback
				if qos == 2 {
					want = codec.TypePubrec
				}
				if codec.PacketType(pkt[0]>>4) != want || uint16(pkt[2])<<8|uint16(pkt[3]) != id {
					done <- fmt.Errorf("got % x, want %v %d", pkt, want, id)
					return
				}
				mu.Lock()
				acked[next] = qos
				pending = 0
				mu.Unlock()
				if qos == 2 {
					pub.c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePubrel, PacketID: id}, codec.V311))
					if pkt, err := pub.read(); err != nil {
						next++
						done <- nil
						return
					} else if codec.PacketType(pkt[0]>>4) != codec.TypePubcomp {
						done <- fmt.Errorf("got % x, want PUBCOMP", pkt)
						return
					}
				}
			}
		}()
		time.Sleep(time.Duration(150+rng.IntN(450)) * time.Millisecond)
		nd.kill(t, syscall.SIGKILL)
		pub.c.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if subDone != nil {
			if err := <-subDone; err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		if pending != 0 {
			inflight[pending] = byte(1 + pending%2)
			next = pending + 1
		}
		mu.Unlock()
		t.Logf("round %d: %d acknowledged so far, subscriber got %d, in flight at the kill: %d", round, len(acked), len(sub.got), pending)
	}

	nd = startNode(t, emqx, work, env, port)
	if present, err := sub.session(t, port, false, 1500*time.Millisecond); err != nil || !present {
		t.Fatalf("final subscriber session: present %v, %v", present, err)
	}
	log := nd.log()
	nd.kill(t, syscall.SIGTERM)

	count := map[int]int{}
	last := 0
	for _, k := range sub.got {
		count[k]++
		if count[k] > 1 {
			continue // a QoS 1 redelivery
		}
		if k < last {
			t.Fatalf("%d arrived after %d: publish order not kept", k, last)
		}
		last = k
	}
	var dup1 int
	for k, q := range acked {
		switch {
		case count[k] == 0:
			t.Fatalf("acknowledged QoS %d message %d never arrived (subscriber got %d messages)\n%s", q, k, len(sub.got), log)
		case q == 2 && count[k] != 1:
			t.Fatalf("acknowledged QoS 2 message %d arrived %d times", k, count[k])
		case count[k] > 1:
			dup1++
		}
	}
	for k, n := range count {
		q, ok := acked[k]
		if !ok {
			q, ok = inflight[k]
			if !ok {
				t.Fatalf("message %d arrived but was never published", k)
			}
		}
		if q == 2 && n > 1 {
			t.Fatalf("QoS 2 message %d (in flight at a kill) arrived %d times", k, n)
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d messages acknowledged: nothing was tested", len(acked))
	}
	t.Logf("%d messages acknowledged, %d delivered, %d QoS 1 redeliveries", len(acked), len(sub.got), dup1)
	// Compaction outputs are named <major>-<minor>.seg with a non-zero minor: the kills above
	// happened while the store was compacting.
	segs, _ := filepath.Glob(filepath.Join(work, "data", "store", "*.seg"))
	compacted := 0
	for _, f := range segs {
		if !strings.HasSuffix(f, "-00000000.seg") {
			compacted++
		}
	}
	if compacted == 0 {
		t.Errorf("no compaction ran during the test: segments %v", segs)
	}
}
