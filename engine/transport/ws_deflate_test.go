package transport

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"strings"
	"testing"
)

// Compressed messages, with and without the client's context takeover, in frames split
// anywhere and drained unevenly, decode to exactly their payloads, in order.
func TestWebSocketDeflateSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	upgrade := strings.TrimSuffix(testUpgrade, "\r\n") + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
	for round := range 200 {
		takeover := round%2 == 0
		var stream, want []byte
		stream = append(stream, upgrade...)
		var zb bytes.Buffer
		zw, _ := flate.NewWriter(&zb, flate.BestSpeed)
		for range 1 + rng.IntN(8) {
			p := make([]byte, []int{0, 1, 5, 125, 300, 5000, 70000}[rng.IntN(7)])
			for i := range p {
				p[i] = "abcab"[rng.IntN(5)] // compressible, with back-references
			}
			if !takeover {
				zw.Reset(&zb)
			}
			zb.Reset()
			_, _ = zw.Write(p)
			_ = zw.Flush()
			z := bytes.TrimSuffix(zb.Bytes(), []byte{0, 0, 0xff, 0xff})
			m := [4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
			if rng.IntN(3) == 0 && len(z) > 1 { // fragmented: RSV1 on the first frame only
				k := rng.IntN(len(z))
				stream = append(stream, maskedFrame(0x2|0x40, false, z[:k], m)...)
				stream = append(stream, maskedFrame(0x0, true, z[k:], m)...)
			} else {
				stream = append(stream, maskedFrame(0x2|0x40, true, z, m)...)
			}
			if rng.IntN(4) == 0 { // an uncompressed message between them
				stream = append(stream, maskedFrame(0x2, true, []byte("plain"), m)...)
				p = append(p, "plain"...)
			}
			want = append(want, p...)
		}
		sizes := []byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(40))}
		o := &WebSocketOptions{Path: "/mqtt", MaxMessageSize: 1 << 20, Deflate: &DeflateOptions{Level: flate.BestSpeed}}
		if !takeover {
			o.Deflate.ClientNoContextTakeover = true
		}
		got, _, err := feedChunks(t, []byte(stream), sizes, o)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d (takeover %v): decoded %d bytes, want %d; first difference at %d", round, takeover, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
