package codec

import (
	"bytes"
	"testing"
)

// MQTT 3.1 has no Session Present: the CONNACK's first byte is reserved and must be 0.
func TestConnackV31ReservedByte(t *testing.T) {
	got := AppendConnack(nil, &Connack{SessionPresent: true}, V31)
	if want := []byte{0x20, 2, 0, 0}; !bytes.Equal(got, want) {
		t.Fatalf("3.1 CONNACK % x, want % x", got, want)
	}
	if got := AppendConnack(nil, &Connack{SessionPresent: true}, V311); got[2] != 1 {
		t.Fatalf("3.1.1 CONNACK lost Session Present: % x", got)
	}
}

// MQTT 3.1 lets a client resend PUBREL, SUBSCRIBE and UNSUBSCRIBE with DUP set; 3.1.1 made
// those flags reserved [MQTT-2.2.2-2].
func TestDupResendV31(t *testing.T) {
	pubrel := []byte{0x6A, 2, 0, 7}
	sub := AppendSubscribe(nil, &Subscribe{PacketID: 9, Subs: []Subscription{{Filter: []byte("a/b"), QoS: 1}}}, V31)
	unsub := AppendUnsubscribe(nil, &Unsubscribe{PacketID: 9, Filters: [][]byte{[]byte("a/b")}}, V31)
	sub[0] |= 0x08
	unsub[0] |= 0x08
	for _, pkt := range [][]byte{pubrel, sub, unsub} {
		if _, err := FrameV(pkt, 0, V31); err != nil {
			t.Fatalf("3.1 frame % x: %v", pkt, err)
		}
		if _, err := FrameV(pkt, 0, V311); err != ErrReservedFlags { //nolint:errorlint
			t.Fatalf("3.1.1 frame % x: %v, want reserved flags", pkt, err)
		}
		if _, err := Frame(pkt, 0); err != ErrReservedFlags { //nolint:errorlint
			t.Fatalf("frame before CONNECT % x: %v, want reserved flags", pkt, err)
		}
	}
	var a Ack
	if err := a.Decode(pubrel, V31); err != nil || a.PacketID != 7 {
		t.Fatalf("3.1 PUBREL with DUP: %v", err)
	}
	if err := a.Decode(pubrel, V311); err != ErrReservedFlags { //nolint:errorlint
		t.Fatalf("3.1.1 PUBREL with DUP: %v", err)
	}
	var s Subscribe
	if err := s.Decode(sub, V31); err != nil || s.PacketID != 9 {
		t.Fatalf("3.1 SUBSCRIBE with DUP: %v", err)
	}
	var u Unsubscribe
	if err := u.Decode(unsub, V31); err != nil || u.PacketID != 9 {
		t.Fatalf("3.1 UNSUBSCRIBE with DUP: %v", err)
	}
	// Other flags stay reserved in 3.1 too.
	if _, err := FrameV([]byte{0x6B, 2, 0, 7}, 0, V31); err != ErrReservedFlags { //nolint:errorlint
		t.Fatalf("3.1 PUBREL with RETAIN: %v", err)
	}
}

// A property identifier not valid for its packet type makes the packet malformed (0x81), also
// when its value is cut short (MQTT 5.0 section 2.2.2.2).
func TestPropertyNotValidIsMalformed(t *testing.T) {
	if CodeOf(ErrPropertyNotAllowed) != MalformedPacket {
		t.Fatalf("code %v", CodeOf(ErrPropertyNotAllowed))
	}
	// PUBLISH topic "t", properties: Reason String (0x1F, not valid in PUBLISH) cut short.
	pkt := []byte{0x30, 6, 0, 1, 't', 2, 0x1F, 0}
	var p Publish
	if err := p.Decode(pkt, V5); CodeOf(err) != MalformedPacket {
		t.Fatalf("decode: %v (code %v), want malformed", err, CodeOf(err))
	}
}
