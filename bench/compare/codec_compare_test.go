// Package compare benchmarks the emqgo codec against the packet codecs of
// paho.golang (github.com/eclipse/paho.golang/packets) and mochi-mqtt
// (github.com/mochi-mqtt/server/v2/packets) doing the same work:
//
//   - decode: one whole QoS 1 PUBLISH, given as bytes, into the library's
//     packet struct (fixed header included), with the checks the library
//     applies to an inbound PUBLISH (emqgo's Decode validates as it goes;
//     mochi's server calls PublishValidate after PublishDecode; paho's
//     Unpack has no separate validation);
//   - encode: the same PUBLISH from the library's struct into a reused buffer;
//
// with a 64 B and a 4 KiB payload, for MQTT 3.1.1 and for MQTT 5 with a
// message expiry, a content type and two user properties. paho.golang
// speaks MQTT 5 only, so it has no 3.1.1 rows. The "emqgo-header" rows are
// not the same work: they write only the per-subscriber header, as the
// broker's fan-out does before sending the shared payload with Writev.
//
// A full encode of a 4 KiB payload is bounded by copying the payload, which
// every library does once; compare the 64 B rows for codec overhead. Sub-benchmarks are named
// <Benchmark>/<case>/<library> for a side-by-side table:
//
//	go test -run '^$' -bench Publish -count 3
package compare

import (
	"bytes"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/emqgo/emqgo/codec"
	mochi "github.com/mochi-mqtt/server/v2/packets"
)

var topic = "sensors/building-1/floor-3/room-42/temperature"

type benchCase struct {
	name string
	v    codec.Version
	size int
}

var cases = []benchCase{
	{"v311-64B", codec.V311, 64},
	{"v311-4KiB", codec.V311, 4096},
	{"v5-64B", codec.V5, 64},
	{"v5-4KiB", codec.V5, 4096},
}

func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// emqgoPublish is the benchmark message in our struct, and its wire bytes.
func emqgoPublish(c benchCase) (*codec.Publish, []byte) {
	p := &codec.Publish{QoS: 1, PacketID: 42, Topic: []byte(topic), Payload: payload(c.size)}
	if c.v == codec.V5 {
		p.Props.SetMessageExpiry(3600)
		p.Props.SetContentType([]byte("application/json"))
		p.Props.AddUser([]byte("trace-id"), []byte("4bf92f3577b34da6"))
		p.Props.AddUser([]byte("region"), []byte("eu-west-1"))
	}
	return p, codec.AppendPublish(nil, p, c.v)
}

func pahoPublish(c benchCase) *packets.Publish {
	exp := uint32(3600)
	return &packets.Publish{QoS: 1, PacketID: 42, Topic: topic, Payload: payload(c.size),
		Properties: &packets.Properties{
			MessageExpiry: &exp,
			ContentType:   "application/json",
			User: []packets.User{
				{Key: "trace-id", Value: "4bf92f3577b34da6"},
				{Key: "region", Value: "eu-west-1"},
			},
		}}
}

func mochiPublish(c benchCase) *mochi.Packet {
	pk := &mochi.Packet{
		FixedHeader:     mochi.FixedHeader{Type: mochi.Publish, Qos: 1},
		ProtocolVersion: byte(c.v),
		PacketID:        42,
		TopicName:       topic,
		Payload:         payload(c.size),
	}
	if c.v == codec.V5 {
		pk.Properties.MessageExpiryInterval = 3600
		pk.Properties.ContentType = "application/json"
		pk.Properties.User = []mochi.UserProperty{
			{Key: "trace-id", Val: "4bf92f3577b34da6"},
			{Key: "region", Val: "eu-west-1"},
		}
	}
	return pk
}

// fixedHeader splits raw into first byte, header length and body, the way
// a connection reader hands a body to paho's and mochi's decoders.
func fixedHeader(tb testing.TB, raw []byte) (byte, int, []byte) {
	h, err := codec.Frame(raw, 0)
	if err != nil || h.Total != len(raw) {
		tb.Fatalf("frame: %+v %v", h, err)
	}
	return raw[0], h.HeaderLen, raw[h.HeaderLen:]
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, c := range cases {
		_, raw := emqgoPublish(c)
		b.Run(c.name+"/emqgo", func(b *testing.B) {
			var p codec.Publish
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := p.Decode(raw, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.v == codec.V5 {
			b.Run(c.name+"/paho", func(b *testing.B) {
				first, _, body := fixedHeader(b, raw)
				b.ReportAllocs()
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					// The fixed header as paho's ReadPacket parses it, then Unpack.
					p := packets.Publish{QoS: first >> 1 & 3, Duplicate: first&8 != 0, Retain: first&1 != 0,
						Properties: &packets.Properties{}}
					if err := p.Unpack(bytes.NewBuffer(body)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(c.name+"/mochi", func(b *testing.B) {
			first, _, _ := fixedHeader(b, raw)
			var rd bytes.Reader // reused: mochi reads the length from its connection's bufio.Reader
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				pk := mochi.Packet{ProtocolVersion: byte(c.v)}
				if err := pk.FixedHeader.Decode(first); err != nil {
					b.Fatal(err)
				}
				rd.Reset(raw[1:])
				n, hl, err := mochi.DecodeLength(&rd)
				if err != nil {
					b.Fatal(err)
				}
				pk.FixedHeader.Remaining = n
				if err := pk.PublishDecode(raw[1+hl:]); err != nil {
					b.Fatal(err)
				}
				// mochi validates after decoding (server.go processPublish);
				// emqgo's Decode does both.
				if code := pk.PublishValidate(65535); code != mochi.CodeSuccess {
					b.Fatal(code)
				}
			}
		})
	}
}

func BenchmarkEncodePublish(b *testing.B) {
	for _, c := range cases {
		p, raw := emqgoPublish(c)
		b.Run(c.name+"/emqgo", func(b *testing.B) {
			buf := make([]byte, 0, len(raw))
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf = codec.AppendPublish(buf[:0], p, c.v)
			}
		})
		// Not the same work, shown for scale: what the broker's fan-out does
		// per subscriber, writing only the header (the payload goes out from
		// the shared buffer with Writev, uncopied).
		b.Run(c.name+"/emqgo-header", func(b *testing.B) {
			var h codec.PublishHeader
			h.Prepare(p.Topic, &p.Props, len(p.Payload))
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf = h.AppendTo(buf[:0], codec.Delivery{Version: c.v, QoS: 1, PacketID: 42})
			}
		})
		if c.v == codec.V5 {
			b.Run(c.name+"/paho", func(b *testing.B) {
				pp := pahoPublish(c)
				var buf bytes.Buffer
				b.ReportAllocs()
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					buf.Reset()
					if _, err := pp.WriteTo(&buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(c.name+"/mochi", func(b *testing.B) {
			pk := mochiPublish(c)
			var buf bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				buf.Reset()
				if err := pk.PublishEncode(&buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSameWork checks that the three libraries read and write the same
// packet: each one's encoding decodes with ours to the benchmark message.
func TestSameWork(t *testing.T) {
	for _, c := range cases {
		want, raw := emqgoPublish(c)
		check := func(lib string, enc []byte) {
			t.Helper()
			var got codec.Publish
			if err := got.Decode(enc, c.v); err != nil {
				t.Fatalf("%s %s: %v", c.name, lib, err)
			}
			if string(got.Topic) != topic || !bytes.Equal(got.Payload, want.Payload) || got.PacketID != 42 ||
				c.v == codec.V5 && (got.Props.MessageExpiry != 3600 || len(got.Props.User) != 2 ||
					string(got.Props.ContentType) != "application/json") {
				t.Fatalf("%s %s: decoded %+v", c.name, lib, got)
			}
		}
		check("emqgo", raw)
		var buf bytes.Buffer
		if err := mochiPublish(c).PublishEncode(&buf); err != nil {
			t.Fatal(err)
		}
		check("mochi", buf.Bytes())
		if c.v == codec.V5 {
			buf.Reset()
			if _, err := pahoPublish(c).WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			check("paho", buf.Bytes())
		}
	}
}
