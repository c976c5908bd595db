package codec

import "testing"

// TestGoldenMutations runs every truncation of every golden body (with the
// remaining length rewritten to match) and every single-byte change of
// every golden packet through the decoders: none may panic or read past
// the packet, failures must carry an error reason code, and whatever
// decodes must survive encode→decode unchanged (the fuzz targets' checks,
// run deterministically over the corpus).
func TestGoldenMutations(t *testing.T) {
	for _, g := range allGoldens() {
		h, err := Frame(g.raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < h.Length; n++ {
			pkt := AppendFixedHeader(nil, h.Type, h.Flags, n)
			pkt = append(pkt, g.raw[h.HeaderLen:h.HeaderLen+n]...)
			checkStable(t, g.v, pkt)
		}
		for i := range g.raw {
			for _, c := range []byte{0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, g.raw[i] ^ 0x01, g.raw[i] ^ 0x40} {
				pkt := append([]byte(nil), g.raw...)
				pkt[i] = c
				checkStable(t, g.v, pkt)
			}
		}
	}
}

func TestEncodeDefaults(t *testing.T) {
	// The protocol name follows the version when left empty.
	for _, c := range []struct {
		v    Version
		name string
	}{{V31, "MQIsdp"}, {V311, "MQTT"}, {V5, "MQTT"}} {
		in := Connect{Version: c.v, CleanStart: true, ClientID: []byte("id")}
		var out Connect
		if err := out.Decode(AppendConnect(nil, &in)); err != nil || string(out.ProtocolName) != c.name || out.Version != c.v {
			t.Fatalf("%v: %q %v", c.v, out.ProtocolName, err)
		}
	}
	// MQTT 3 CONNACK carries the return code mapped from the reason code.
	mustEqualBytes(t, "connack v3", AppendConnack(nil, &Connack{Code: Banned}, V311), []byte{0x20, 2, 0, 5})
	// Below V5, acknowledgements drop code and properties, DISCONNECT is empty.
	a := Ack{Type: TypePubrel, PacketID: 9, Code: PacketIdentifierNotFound}
	mustEqualBytes(t, "pubrel v3", AppendAck(nil, &a, V311), []byte{0x62, 2, 0, 9})
	mustEqualBytes(t, "disconnect v3", AppendDisconnect(nil, &Disconnect{Code: ServerBusy}, V311), []byte{0xE0, 0})
	// Subscription options beyond QoS are dropped below V5.
	s := Subscribe{PacketID: 1, Subs: []Subscription{{Filter: []byte("a"), QoS: 2, NoLocal: true, RetainHandling: 2}}}
	mustEqualBytes(t, "subscribe v3", AppendSubscribe(nil, &s, V311), []byte{0x82, 6, 0, 1, 0, 1, 'a', 2})
}

func TestDecodeWrongType(t *testing.T) {
	var a Ack
	if err := a.Decode([]byte{0x30, 2, 0, 1}, V5); err != ErrWrongPacketType { //nolint:errorlint
		t.Fatal(err)
	}
	if err := a.Decode(nil, V5); err != ErrTruncated { //nolint:errorlint
		t.Fatal(err)
	}
	var p Publish
	if err := p.Decode([]byte{0x40, 2, 0, 1}, V5); err != ErrWrongPacketType { //nolint:errorlint
		t.Fatal(err)
	}
	if err := p.Decode([]byte{0x30}, V5); err != ErrTruncated { //nolint:errorlint
		t.Fatal(err)
	}
	if err := DecodePingreq([]byte{0xD0, 0}); err != ErrWrongPacketType { //nolint:errorlint
		t.Fatal(err)
	}
	// A decode into a reused struct leaves nothing of the previous packet.
	_, raw := benchPublish(V5, 10)
	if err := p.Decode(raw, V5); err != nil {
		t.Fatal(err)
	}
	if err := p.Decode([]byte{0x30, 3, 0, 1, 'a'}, V311); err != nil {
		t.Fatal(err)
	}
	if !samePacket(&p, &Publish{Topic: []byte("a")}) {
		t.Fatalf("stale fields: %+v", p)
	}
}

func TestResets(t *testing.T) {
	for _, g := range allGoldens() {
		pkt, err := decodeAny(g.raw, g.v)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := pkt.(interface{ Reset() })
		if !ok {
			continue
		}
		r.Reset()
		if !samePacket(pkt, zeroOf(pkt)) {
			t.Fatalf("%s: Reset left %+v", g.name, pkt)
		}
	}
}

func zeroOf(p any) any {
	switch p.(type) {
	case *Connect:
		return &Connect{}
	case *Connack:
		return &Connack{}
	case *Publish:
		return &Publish{}
	case *Ack:
		return &Ack{}
	case *Subscribe:
		return &Subscribe{}
	case *Suback:
		return &Suback{}
	case *Unsubscribe:
		return &Unsubscribe{}
	case *Unsuback:
		return &Unsuback{}
	case *Disconnect:
		return &Disconnect{}
	case *Auth:
		return &Auth{}
	}
	return nil
}
