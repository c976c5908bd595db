package engine

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// benchSubscriber connects a raw subscriber to filter and returns a function that reads n
// PUBLISH packets (acking QoS 1) and returns when they all arrived.
func benchSubscriber(b *testing.B, addr, id, filter string, qos byte) func(n int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: []byte(id), KeepAlive: 300}))
	c.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}, codec.V311))
	r := bufio.NewReaderSize(c, 1<<16)
	read := func() (codec.Header, []byte) {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			b.Fatal(err)
		}
		n := 2
		for hdr[n-1]&0x80 != 0 {
			hdr[n], _ = r.ReadByte()
			n++
		}
		h, _ := codec.Frame(hdr[:n], 0)
		body := make([]byte, h.Length)
		io.ReadFull(r, body)
		return h, body
	}
	read() // CONNACK
	read() // SUBACK
	var ackBuf []byte
	return func(n int) {
		for got := 0; got < n; {
			h, body := read()
			if h.Type != codec.TypePublish {
				continue
			}
			got++
			if qos > 0 {
				tl := int(body[0])<<8 | int(body[1])
				id := uint16(body[2+tl])<<8 | uint16(body[3+tl])
				ackBuf = codec.AppendAck(ackBuf[:0], &codec.Ack{Type: codec.TypePuback, PacketID: id}, codec.V311)
				c.Write(ackBuf)
			}
		}
	}
}

// benchPublisher connects a raw publisher and returns a function sending n QoS 0 messages of
// size bytes to topic in large writes.
func benchPublisher(b *testing.B, addr, id, topic string, size int) func(n int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: []byte(id), KeepAlive: 300}))
	ack := make([]byte, 4)
	io.ReadFull(c, ack)
	one := codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: make([]byte, size)}, codec.V311)
	batch := make([]byte, 0, len(one)*256)
	for range 256 {
		batch = append(batch, one...)
	}
	return func(n int) {
		for n > 0 {
			k := min(n, 256)
			if _, err := c.Write(batch[:k*len(one)]); err != nil {
				b.Error(err)
				return
			}
			n -= k
		}
	}
}

// BenchmarkFanIn: 8 publishers, one subscriber, QoS 0, 64 B; reports delivered messages/s.
func BenchmarkFanIn(b *testing.B) {
	_, addr := testNodeB(b)
	recv := benchSubscriber(b, addr, "sink", "fan/#", 0)
	const pubs = 8
	send := make([]func(int), pubs)
	for i := range send {
		send[i] = benchPublisher(b, addr, "p"+strconv.Itoa(i), "fan/"+strconv.Itoa(i), 64)
	}
	b.ResetTimer()
	b.ReportAllocs()
	b.SetBytes(64)
	var wg sync.WaitGroup
	per := b.N / pubs
	for i := range send {
		wg.Add(1)
		go func() { defer wg.Done(); send[i](per) }()
	}
	recv(per * pubs)
	wg.Wait()
	b.ReportMetric(float64(per*pubs)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkFanOut: one publisher, 100 subscribers, QoS 0, 64 B; reports deliveries/s.
func BenchmarkFanOut(b *testing.B) {
	_, addr := testNodeB(b)
	const subs = 100
	recvs := make([]func(int), subs)
	for i := range recvs {
		recvs[i] = benchSubscriber(b, addr, "s"+strconv.Itoa(i), "out/t", 0)
	}
	send := benchPublisher(b, addr, "pub", "out/t", 64)
	b.ResetTimer()
	b.ReportAllocs()
	var wg sync.WaitGroup
	for _, r := range recvs {
		wg.Add(1)
		go func() { defer wg.Done(); r(b.N) }()
	}
	send(b.N)
	wg.Wait()
	b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
}

func testNodeB(b *testing.B) (*Node, string) {
	z := DefaultZone()
	z.MaxMqueueLen = 0
	z.HighWater = 64 << 20
	z.CloseWater = 0
	cfg := &Config{
		NodeName:       "bench@127.0.0.1",
		Listeners:      []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: z}},
		AllowAnonymous: true,
		SharedStrategy: "round_robin",
	}
	n, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Stop(b.Context()) })
	return n, n.Addr("external")
}
