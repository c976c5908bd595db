package codec

import (
	"bytes"
	"testing"
)

// addSeeds adds every golden packet, for each version, as a seed; plain
// `go test` runs the seeds as regression tests.
func addSeeds(f *testing.F, filter func(PacketType) bool) {
	for _, g := range allGoldens() {
		if filter(PacketType(g.raw[0] >> 4)) {
			f.Add(byte(g.v), g.raw)
		}
	}
}

// checkStable decodes data as version v; if that succeeds, the packet must
// encode to bytes that decode to the same packet and re-encode identically.
func checkStable(t *testing.T, v Version, data []byte) {
	// Cut capacity so that any read past the packet's end would panic.
	data = data[:len(data):len(data)]
	first, err := decodeAny(data, v)
	if err != nil {
		if CodeOf(err) < 0x80 {
			t.Fatalf("error %v carries a non-error code %v", err, CodeOf(err))
		}
		return
	}
	if c, ok := first.(*Connect); ok {
		v = c.Version
	}
	enc := encodeAny(nil, first, v)
	if h, err := Frame(enc, 0); err != nil || h.Total != len(enc) {
		t.Fatalf("re-encoded packet does not frame: %+v %v\n% x", h, err, enc)
	}
	second, err := decodeAny(enc, v)
	if err != nil {
		t.Fatalf("re-encoded packet fails to decode: %v\nin  % x\nout % x", err, data, enc)
	}
	enc2 := encodeAny(nil, second, v)
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding not stable:\n1st % x\n2nd % x", enc, enc2)
	}
	if !samePacket(first, second) {
		t.Fatalf("decode→encode→decode differs:\n1st %+q\n2nd %+q", first, second)
	}
}

// FuzzDecode frames arbitrary bytes and decodes whatever comes out, for
// every protocol version: no panic, no read past the packet, and
// decode→encode→decode is stable.
func FuzzDecode(f *testing.F) {
	addSeeds(f, func(PacketType) bool { return true })
	f.Fuzz(func(t *testing.T, version byte, data []byte) {
		v := Version(version%3 + 3)
		for i := 0; i <= len(data) && i < 8; i++ {
			if _, err := Frame(data[:i], 0); err != nil {
				break
			}
		}
		h, err := Frame(data, 0)
		if err != nil || h.Total == 0 {
			return
		}
		checkStable(t, v, data[:h.Total])
	})
}

// FuzzDecodeConnect targets CONNECT, the packet with the most flags.
func FuzzDecodeConnect(f *testing.F) {
	addSeeds(f, func(t PacketType) bool { return t == TypeConnect })
	f.Fuzz(func(t *testing.T, _ byte, data []byte) {
		if len(data) < 2 {
			return
		}
		data = append([]byte{byte(TypeConnect) << 4}, data[1:]...) // the input is not ours to modify
		checkStable(t, V5, data)
	})
}

// FuzzDecodePublish targets PUBLISH and its properties.
func FuzzDecodePublish(f *testing.F) {
	addSeeds(f, func(t PacketType) bool { return t == TypePublish })
	f.Fuzz(func(t *testing.T, version byte, data []byte) {
		if len(data) < 2 {
			return
		}
		data = append([]byte{byte(TypePublish)<<4 | data[0]&0x0F}, data[1:]...)
		checkStable(t, Version(version%3+3), data)
	})
}

// FuzzDecodeSubscribe targets SUBSCRIBE, UNSUBSCRIBE and the acknowledgements.
func FuzzDecodeSubscribe(f *testing.F) {
	addSeeds(f, func(t PacketType) bool { return t >= TypePuback && t <= TypeUnsuback })
	f.Fuzz(func(t *testing.T, version byte, data []byte) {
		checkStable(t, Version(version%3+3), data)
	})
}
