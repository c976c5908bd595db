package transport

import (
	"bytes"
	"testing"
)

// packetCursor finds MQTT packets whose fixed header and body are spread over slices in any
// way (the engine writes headers and shared payloads as separate slices).
func TestPacketCursor(t *testing.T) {
	big := bytes.Repeat([]byte{'p'}, 200) // remaining length 200: a two-byte length
	stream := append(append([]byte{0x30, 0xc8, 0x01}, big...), 0xd0, 0x00, 0x20, 0x02, 0x00, 0x00)
	sizes := []int{203, 2, 4}
	for cut1 := 0; cut1 <= len(stream); cut1++ {
		for _, cut2 := range []int{cut1, min(cut1+1, len(stream)), len(stream)} {
			bufs := [][]byte{stream[:cut1], stream[cut1:cut2], stream[cut2:]}
			c := packetCursor{bufs: bufs}
			var got [][]byte
			for _, want := range sizes {
				n := c.packetLen()
				if n != want {
					t.Fatalf("cuts %d,%d: packet of %d bytes, want %d", cut1, cut2, n, want)
				}
				got = c.take(n, got[:0])
				if !bytes.Equal(bytes.Join(got, nil), stream[:n]) {
					t.Fatalf("cuts %d,%d: wrong bytes", cut1, cut2)
				}
				stream = stream[n:]
			}
			stream = append(append([]byte{0x30, 0xc8, 0x01}, big...), 0xd0, 0x00, 0x20, 0x02, 0x00, 0x00)
			if n := c.packetLen(); n != 0 {
				t.Fatalf("past the end: %d", n)
			}
		}
	}
}
