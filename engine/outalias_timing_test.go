package engine

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// BenchmarkOutboundTopicAlias: one publisher cycling over 8 topics of 64 bytes, one MQTT 5
// subscriber, QoS 0, 64 B payloads, with and without outbound topic aliases; reports the
// bytes on the subscriber's wire per message (wire-B/msg). The difference is what the
// aliases save: the topic (66 bytes with its length) against a 3-byte alias property. The
// "mosquitto" case runs the aliased subscriber against Mosquitto (started on a free loopback
// port, skipped when not installed), for the ratio.
func BenchmarkOutboundTopicAlias(b *testing.B) {
	for _, name := range []string{"plain", "aliases", "mosquitto"} {
		aliases := name != "plain"
		b.Run(name, func(b *testing.B) {
			var addr string
			if name == "mosquitto" {
				addr = startMosquittoB(b)
			} else {
				_, addr = testNodeB(b)
			}
			recv := aliasBenchSubscriber(b, addr, aliases)
			topics := make([]string, 8)
			sends := make([]func(int), len(topics))
			for i := range topics {
				topics[i] = "fleet/region-eu-west/vehicle-000000" + strconv.Itoa(i) + "/telemetry/engine/temp"
				for len(topics[i]) < 64 {
					topics[i] += "x"
				}
				sends[i] = benchPublisher(b, addr, "p"+strconv.Itoa(i), topics[i], 64)
			}
			b.ResetTimer()
			b.ReportAllocs()
			per := max(b.N/len(topics), 1)
			done := make(chan int64)
			go func() { done <- recv(per * len(topics)) }()
			for _, s := range sends {
				s(per)
			}
			bytes := <-done
			b.ReportMetric(float64(bytes)/float64(per*len(topics)), "wire-B/msg")
		})
	}
}

// aliasBenchSubscriber connects a raw MQTT 5 subscriber to fleet/# (accepting 16 topic
// aliases when aliases is set) and returns a function reading n PUBLISH packets and
// returning the bytes they took on the wire.
func aliasBenchSubscriber(b *testing.B, addr string, aliases bool) func(n int) int64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	cp := &codec.Connect{Version: codec.V5, CleanStart: true, ClientID: []byte("sink"), KeepAlive: 300}
	if aliases {
		cp.Props.SetTopicAliasMaximum(16)
	}
	c.Write(codec.AppendConnect(nil, cp))
	c.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("fleet/#")}}}, codec.V5))
	r := bufio.NewReaderSize(c, 1<<16)
	read := func() (codec.Header, int) {
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
		if _, err := r.Discard(h.Length); err != nil {
			b.Fatal(err)
		}
		return h, n + h.Length
	}
	read() // CONNACK
	read() // SUBACK
	return func(n int) int64 {
		var total int64
		for got := 0; got < n; {
			h, size := read()
			if h.Type != codec.TypePublish {
				continue
			}
			got++
			total += int64(size)
		}
		return total
	}
}

// startMosquittoB runs the Mosquitto broker on a free loopback port for one benchmark.
func startMosquittoB(b *testing.B) string {
	if _, err := exec.LookPath("mosquitto"); err != nil {
		b.Skip("mosquitto not installed (make bench-deps)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command("mosquitto", "-p", port)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("mosquitto did not listen")
	return ""
}
