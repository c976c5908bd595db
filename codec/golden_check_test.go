package codec

import (
	"bytes"
	"testing"
)

func TestGoldenDecode(t *testing.T) {
	for _, g := range allGoldens() {
		t.Run(g.name, func(t *testing.T) {
			h, err := Frame(g.raw, 0)
			if err != nil || h.Total != len(g.raw) || h.Type != PacketType(g.raw[0]>>4) {
				t.Fatalf("Frame = %+v, %v; want total %d", h, err, len(g.raw))
			}
			got, err := decodeAny(g.raw, g.v)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !samePacket(got, g.pkt) {
				t.Fatalf("decode:\n got %+q\nwant %+q", got, g.pkt)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range allGoldens() {
		t.Run(g.name, func(t *testing.T) {
			mustEqualBytes(t, "encode", encodeAny(nil, g.pkt, g.v), g.raw)
			// Appending keeps what dst already holds.
			prefix := []byte("xyz")
			out := encodeAny(prefix, g.pkt, g.v)
			mustEqualBytes(t, "append", out, append([]byte("xyz"), g.raw...))
			// decode → encode reproduces the bytes.
			got, err := decodeAny(g.raw, g.v)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			mustEqualBytes(t, "re-encode", encodeAny(nil, got, g.v), g.raw)
		})
	}
}

// TestGoldenSplit feeds every golden packet split at every byte, as a
// stream read in two pieces would deliver it.
func TestGoldenSplit(t *testing.T) {
	for _, g := range allGoldens() {
		t.Run(g.name, func(t *testing.T) {
			for i := 0; i < len(g.raw); i++ {
				h, err := Frame(g.raw[:i], 0)
				if err != nil || h.Total != 0 {
					t.Fatalf("Frame(first %d bytes) = %+v, %v; want need more", i, h, err)
				}
				if i >= 2 && h.HeaderLen == 0 && i > headerLen(g.raw) {
					t.Fatalf("Frame(first %d bytes): header complete but not reported", i)
				}
				// The connection's buffer: the first piece, then the rest.
				buf := append(append(make([]byte, 0, 4), g.raw[:i]...), g.raw[i:]...)
				h, err = Frame(buf, 0)
				if err != nil || h.Total != len(g.raw) {
					t.Fatalf("Frame(whole after split at %d) = %+v, %v", i, h, err)
				}
				got, err := decodeAny(buf[:h.Total], g.v)
				if err != nil || !samePacket(got, g.pkt) {
					t.Fatalf("split at %d: %+q, %v", i, got, err)
				}
			}
		})
	}
}

func headerLen(raw []byte) int {
	n := 1
	for n < len(raw) && raw[n]&0x80 != 0 {
		n++
	}
	return n + 1
}

// TestStreamByteByByte concatenates the corpus of one version and feeds it
// one byte at a time, framing packets off the front as they complete.
func TestStreamByteByByte(t *testing.T) {
	for _, v := range []Version{V31, V311, V5} {
		var stream []byte
		var want []golden
		for _, g := range allGoldens() {
			if g.v == v {
				stream = append(stream, g.raw...)
				want = append(want, g)
			}
		}
		var buf []byte
		n := 0
		for _, c := range stream {
			buf = append(buf, c)
			h, err := Frame(buf, 0)
			if err != nil {
				t.Fatalf("v%s: Frame: %v", v, err)
			}
			if h.Total == 0 {
				continue
			}
			got, err := decodeAny(buf[:h.Total], v)
			if err != nil || !samePacket(got, want[n].pkt) {
				t.Fatalf("v%s packet %d (%s): %+q, %v", v, n, want[n].name, got, err)
			}
			buf = buf[h.Total:]
			n++
		}
		if n != len(want) || len(buf) != 0 {
			t.Fatalf("v%s: framed %d of %d packets, %d bytes left", v, n, len(want), len(buf))
		}
	}
}

// TestGoldenClone checks that Clone owns its bytes and that decoding does
// not copy: decoded fields alias the input.
func TestGoldenClone(t *testing.T) {
	for _, g := range allGoldens() {
		raw := bytes.Clone(g.raw)
		got, err := decodeAny(raw, g.v)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		var clone any
		switch p := got.(type) {
		case *Publish:
			if len(p.Payload) > 0 && &p.Payload[0] != &raw[len(raw)-len(p.Payload)] {
				t.Fatalf("%s: payload was copied", g.name)
			}
			clone = p.Clone()
		case *Connect:
			clone = p.Clone()
		case *Subscribe:
			clone = p.Clone()
		default:
			continue
		}
		for i := range raw {
			raw[i] = 0xEE
		}
		if !samePacket(clone, g.pkt) {
			t.Fatalf("%s: clone changed with the buffer:\n got %+q\nwant %+q", g.name, clone, g.pkt)
		}
	}
}
