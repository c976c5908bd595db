package engine

import (
	"bytes"

	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// fuzzNode is one node shared by every input of FuzzConnection, with an internal subscriber on
// every topic, so that what a fuzzed connection publishes is seen.
var fuzzNode struct {
	once sync.Once
	n    *Node
	l    *loop
	ls   *listenerState
	mu   sync.Mutex
	got  [][]byte // topics the subscriber received since the last reset
	mark uint64   // the last sentinel seen (see FuzzConnection)
	seq  uint64
	err  error
	tcp  net.Conn // keeps the loop's anchor connection reachable (a finalizer would close it)
}

func startFuzzNode(t testing.TB) {
	fuzzNode.once.Do(func() {
		z := DefaultZone()
		z.IdleTimeout = time.Hour // the fuzz input decides when the connection ends
		cfg := &Config{
			NodeName:       "fuzz@127.0.0.1",
			Listeners:      []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: z}},
			AllowAnonymous: true,
			LoopCount:      1,
			SweepInterval:  time.Second,
		}
		n, err := New(cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			startMu.Lock()
			err = n.Start()
			startMu.Unlock()
		}
		if err != nil {
			fuzzNode.err = err
			return
		}
		sub, err := n.NewSubscriber(SubscriberOptions{Name: "fuzz-watcher", QueueLen: 1 << 16, Handle: func(ds []Delivery) {
			fuzzNode.mu.Lock()
			for _, d := range ds {
				if bytes.Equal(d.Msg.Topic, fuzzSentinel) {
					fuzzNode.mark, _ = strconv.ParseUint(string(d.Msg.Payload), 10, 64)
					continue
				}
				fuzzNode.got = append(fuzzNode.got, append([]byte(nil), d.Msg.Topic...))
			}
			fuzzNode.mu.Unlock()
		}})
		if err == nil {
			err = sub.Subscribe("#", SubscribeOptions{QoS: 2})
		}
		if err == nil {
			err = sub.Subscribe(string(fuzzSentinel), SubscribeOptions{})
		}
		if err != nil {
			fuzzNode.err = err
			return
		}
		// A TCP client makes the loop exist; it stays connected.
		c, err := dialForFuzz(n.Addr("external"))
		if err != nil {
			fuzzNode.err = err
			return
		}
		fuzzNode.tcp = c
		for fuzzNode.l == nil {
			if loops := *n.loops.Load(); len(loops) > 0 {
				fuzzNode.l = loops[0]
			}
			time.Sleep(time.Millisecond)
		}
		for _, x := range n.byAddr {
			fuzzNode.ls = x
		}
		fuzzNode.n = n
	})
	if fuzzNode.err != nil {
		t.Fatal(fuzzNode.err)
	}
}

// FuzzConnection drives the connection state machine through the transport contract with an
// arbitrary byte stream, cut into reads at arbitrary points (the first input byte picks the cut
// length), for every protocol version (the seeds cover 3.1, 3.1.1 and 5.0). It checks that
// nothing panics, that the connection's resources are released when it ends, and that every
// message the watcher receives names a topic that the input carried (the broker never invents
// a publish).
func FuzzConnection(f *testing.F) {
	for _, v := range []codec.Version{codec.V31, codec.V311, codec.V5} {
		var s []byte // a whole session
		s = append(s, connectPacket(v, "fuzz-"+v.String(), nil)...)
		s = codec.AppendSubscribe(s, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("a/#", 1)}}, v)
		s = codec.AppendPublish(s, &codec.Publish{QoS: 1, PacketID: 2, Topic: []byte("a/b"), Payload: []byte("hello")}, v)
		s = codec.AppendPublish(s, &codec.Publish{QoS: 2, PacketID: 3, Topic: []byte("a/c"), Payload: []byte("x")}, v)
		s = codec.AppendAck(s, &codec.Ack{Type: codec.TypePubrel, PacketID: 3}, v)
		s = codec.AppendPingreq(s)
		seed := func(cut byte, body []byte) []byte { return append([]byte{cut}, body...) }
		f.Add(seed(6, s))                                     // cut every 7 bytes
		f.Add(seed(0, s))                                     // byte by byte
		f.Add(seed(255, s[:len(s)/2]))                        // ends in the middle of a packet
		f.Add(seed(2, append(s[:len(s):len(s)], 0xff, 0x7f))) // garbage after the session
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 || len(data) > 1<<16 {
			return
		}
		startFuzzNode(t)
		n, l, ls := fuzzNode.n, fuzzNode.l, fuzzNode.ls
		cut := int(data[0]) + 1
		input := data[1:]
		before := n.stats.connections.Load()
		fuzzNode.mu.Lock()
		fuzzNode.got = nil
		fuzzNode.mu.Unlock()

		m := &memConn{l: l}
		onLoop(t, l, func() { m.c = n.openConn(l, ls, m) })
		if m.c == nil {
			t.Fatal("connection refused")
		}
		for off := 0; off < len(input); off += cut {
			chunk := input[off:min(off+cut, len(input))]
			onLoop(t, l, func() {
				if m.closed {
					return
				}
				m.in = append(m.in, chunk...)
				m.c.onTraffic()
			})
		}
		onLoop(t, l, func() {
			if !m.closed {
				m.c.closeWith(0, "end of fuzz input")
			}
		})
		deadline := time.Now().Add(5 * time.Second)
		for n.stats.connections.Load() != before {
			if time.Now().After(deadline) {
				t.Fatalf("connection not released: %d open, %d before", n.stats.connections.Load(), before)
			}
			time.Sleep(time.Millisecond)
		}
		if m.c.state != stateClosed || m.c.slot != -1 || m.c.out != nil || m.c.iov != nil {
			t.Fatalf("closed connection kept state %v, output %v/%v", m.c.state, m.c.out != nil, m.c.iov != nil)
		}
		// Deliveries to the watcher go through its own queue, in order: once it has seen a
		// sentinel published after the connection ended, it has seen all the connection caused.
		fuzzNode.seq++
		mark := fuzzNode.seq
		if _, err := n.Publish(string(fuzzSentinel), []byte(strconv.FormatUint(mark, 10)), 0, false, ""); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for {
			fuzzNode.mu.Lock()
			seen := fuzzNode.mark
			got = fuzzNode.got
			fuzzNode.mu.Unlock()
			if seen == mark {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the watcher did not see the sentinel")
			}
			time.Sleep(100 * time.Microsecond)
		}
		for _, topic := range got {
			if !bytes.Contains(input, topic) && !bytes.HasPrefix(topic, []byte("$SYS/")) {
				t.Fatalf("the watcher received a message on %q, which the input never named", topic)
			}
		}
	})
}

// fuzzSentinel is the topic of the messages that tell the watcher's position ('$' topics do
// not match '#').
var fuzzSentinel = []byte("$fuzz/sentinel")

// dialForFuzz opens a plain TCP connection to addr and sends a CONNECT (the node's first loop
// exists from then on).
func dialForFuzz(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	// No keep alive: it stays connected however long the fuzzing runs.
	_, err = c.Write(connectPacket(codec.V311, "fuzz-anchor-7f3a9c", func(p *codec.Connect) { p.KeepAlive = 0 }))
	return c, err
}
