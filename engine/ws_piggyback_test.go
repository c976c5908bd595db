package engine

import (
	"testing"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// framesFor sends CONNECT, two SUBSCRIBEs and a PINGREQ in one WebSocket frame and returns
// the MQTT packets of each frame the broker answers with, until the four answers are in.
func framesFor(t *testing.T, addr string) [][][]byte {
	t.Helper()
	w := dialWSRaw(t, addr)
	w.upgrade("Sec-WebSocket-Protocol: mqtt")
	in := connectPacket(codec.V311, "pig", nil)
	in = codec.AppendSubscribe(in, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("a/#", 0)}}, codec.V311)
	in = codec.AppendSubscribe(in, &codec.Subscribe{PacketID: 2, Subs: []codec.Subscription{sub("b/#", 1)}}, codec.V311)
	in = append(in, 0xc0, 0x00) // PINGREQ
	w.send(binFrame(in))
	var frames [][][]byte
	for got := 0; got < 4; {
		op, _, p := w.next()
		if op != 0x2 {
			t.Fatalf("opcode %d", op)
		}
		var pkts [][]byte
		for len(p) > 0 {
			h, err := codec.Frame(p, 0)
			if err != nil || h.Total == 0 {
				t.Fatalf("frame does not hold whole packets: % x (%v)", p, err)
			}
			pkts, p = append(pkts, p[:h.Total]), p[h.Total:]
		}
		frames = append(frames, pkts)
		got += len(pkts)
	}
	return frames
}

// TestWSPiggyback: mqtt_piggyback = single sends each MQTT packet in its own WebSocket
// message; multiple (the default) lets the answers of one round share a message.
func TestWSPiggyback(t *testing.T) {
	_, _, multi := wsNode(t, nil, nil)
	shared := false
	for _, f := range framesFor(t, multi) {
		shared = shared || len(f) > 1
	}
	if !shared {
		t.Fatal("multiple: every answer came in a message of its own; want the round's answers together")
	}
	_, _, single := wsNode(t, func(o *transport.WebSocketOptions) { o.SinglePacket = true }, nil)
	frames := framesFor(t, single)
	if len(frames) != 4 {
		t.Fatalf("single: %d messages for 4 packets", len(frames))
	}
	for i, want := range []byte{0x20, 0x90, 0x90, 0xd0} {
		if frames[i][0][0] != want {
			t.Fatalf("single: message %d holds % x, want packet type %#x", i, frames[i][0], want)
		}
	}
}
