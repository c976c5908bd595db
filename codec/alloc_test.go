package codec

import "testing"

// benchTopic and benchProps are the PUBLISH used by the allocation gates
// and the benchmarks: a typical topic, and for MQTT 5 a message expiry, a
// content type and two user properties.
var benchTopic = []byte("sensors/building-1/floor-3/room-42/temperature")

func benchProps() Properties {
	var p Properties
	p.SetMessageExpiry(3600)
	p.SetContentType([]byte("application/json"))
	p.AddUser([]byte("trace-id"), []byte("4bf92f3577b34da6"))
	p.AddUser([]byte("region"), []byte("eu-west-1"))
	return p
}

func benchPublish(v Version, size int) (*Publish, []byte) {
	p := &Publish{QoS: 1, PacketID: 42, Topic: benchTopic, Payload: make([]byte, size)}
	for i := range p.Payload {
		p.Payload[i] = byte('a' + i%26)
	}
	if v == V5 {
		p.Props = benchProps()
	}
	return p, AppendPublish(nil, p, v)
}

// noAllocs fails if fn allocates after a warm-up call.
func noAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector allocates: make test-allocs runs this gate without -race")
	}
	fn()
	if n := testing.AllocsPerRun(200, fn); n != 0 {
		t.Errorf("%s: %.1f allocations per run, want 0", name, n)
	}
}

func TestAllocsPublish(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		p, raw := benchPublish(v, 64)
		var dec Publish
		var err error
		noAllocs(t, "decode publish "+v.String(), func() { err = dec.Decode(raw, v) })
		if err != nil || !samePacket(&dec, p) {
			t.Fatalf("decode: %v", err)
		}
		buf := make([]byte, 0, 256)
		noAllocs(t, "encode publish "+v.String(), func() { buf = AppendPublish(buf[:0], p, v) })
		noAllocs(t, "frame", func() { _, err = Frame(raw, 1<<20) })

		var h PublishHeader
		ids := []uint32{7}
		noAllocs(t, "publish header "+v.String(), func() {
			h.Prepare(p.Topic, &p.Props, len(p.Payload))
			buf = h.AppendTo(buf[:0], Delivery{Version: v, QoS: 1, PacketID: 9, SubscriptionIDs: ids, TopicAlias: 3})
		})
	}
}

func TestAllocsAck(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		a := Ack{Type: TypePuback, PacketID: 77}
		if v == V5 {
			a.Code = NoMatchingSubscribers
			a.Props.SetReasonString([]byte("nobody"))
		}
		raw := AppendAck(nil, &a, v)
		var dec Ack
		noAllocs(t, "decode puback "+v.String(), func() { _ = dec.Decode(raw, v) })
		buf := make([]byte, 0, 64)
		noAllocs(t, "encode puback "+v.String(), func() { buf = AppendAck(buf[:0], &a, v) })
	}
}

func TestAllocsSubscribe(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		sub := Subscribe{PacketID: 5, Subs: []Subscription{
			{Filter: []byte("a/+/c"), QoS: 1}, {Filter: []byte("$share/g/x/#"), QoS: 2}, {Filter: []byte("z")},
		}}
		if v == V5 {
			sub.Props.AddSubscriptionID(12)
			sub.Props.AddUser([]byte("k"), []byte("v"))
		}
		raw := AppendSubscribe(nil, &sub, v)
		var dec Subscribe
		var err error
		noAllocs(t, "decode subscribe "+v.String(), func() { err = dec.Decode(raw, v) })
		if err != nil || len(dec.Subs) != 3 {
			t.Fatalf("decode: %v", err)
		}
		buf := make([]byte, 0, 128)
		noAllocs(t, "encode subscribe "+v.String(), func() { buf = AppendSubscribe(buf[:0], &sub, v) })
	}
}

func TestAllocsErrors(t *testing.T) {
	raw := []byte{0x36, 5, 0, 1, 'a', 0, 1}
	var p Publish
	var code ReasonCode
	noAllocs(t, "decode error", func() { code = CodeOf(p.Decode(raw, V5)) })
	if code != MalformedPacket {
		t.Fatal(code)
	}
	var s string
	noAllocs(t, "reason code error text", func() { s = error(MalformedPacket).Error() })
	if s != "malformed packet" {
		t.Fatal(s)
	}
}

var sinkPublish *Publish

// TestCloneAllocs pins the cost of taking ownership: one allocation for
// the struct, one for all byte fields, one per structured slice present.
func TestCloneAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates: make test-allocs runs this gate without -race")
	}
	for _, c := range []struct {
		v    Version
		want float64
	}{{V311, 2}, {V5, 3}} {
		_, raw := benchPublish(c.v, 64)
		var p Publish
		if err := p.Decode(raw, c.v); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { sinkPublish = p.Clone() }); n != c.want {
			t.Errorf("%v: Clone made %.0f allocations, want %.0f", c.v, n, c.want)
		}
		if !samePacket(sinkPublish, &p) {
			t.Fatalf("%v: clone differs", c.v)
		}
	}
}

func TestAllocsOthers(t *testing.T) {
	for _, g := range allGoldens() {
		raw := g.raw
		v := g.v
		pkt, err := decodeAny(raw, v)
		if err != nil {
			t.Fatal(err)
		}
		var dec func() error
		switch p := pkt.(type) {
		case *Connect:
			dec = func() error { return p.Decode(raw) }
		case interface{ Decode([]byte, Version) error }:
			dec = func() error { return p.Decode(raw, v) }
		default:
			continue
		}
		noAllocs(t, "decode "+g.name, func() { _ = dec() })
		buf := make([]byte, 0, 256)
		noAllocs(t, "encode "+g.name, func() { buf = encodeAny(buf[:0], pkt, v) })
	}
}
