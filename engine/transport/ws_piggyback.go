package transport

// mqtt_piggyback = single: every MQTT packet the engine writes leaves in a WebSocket message of
// its own (for clients that expect message and packet boundaries to coincide). With multiple,
// the default, a round's output leaves as one message (ws.go).

// writeEach sends bufs, n bytes of whole MQTT packets, as one WebSocket message per packet.
// Bytes that do not form a complete packet (never written by the engine) leave as one last
// message. Runs on the loop.
func (w *WebSocket) writeEach(bufs [][]byte, n int) (int, error) {
	cur := packetCursor{bufs: bufs}
	parts := getVec()
	defer putVec(parts)
	for sent := 0; sent < n; {
		size := cur.packetLen()
		if size <= 0 || size > n-sent {
			size = n - sent
		}
		*parts = cur.take(size, (*parts)[:0])
		if _, err := w.writeMessage(*parts, size); err != nil {
			return sent, err
		}
		sent += size
	}
	return n, nil
}

// packetCursor walks MQTT packets across a list of byte slices.
type packetCursor struct {
	bufs [][]byte
	i    int // current slice
	off  int // offset in it
}

// at returns the k-th byte from the cursor, false past the end.
func (c *packetCursor) at(k int) (byte, bool) {
	i, off := c.i, c.off+k
	for i < len(c.bufs) {
		if off < len(c.bufs[i]) {
			return c.bufs[i][off], true
		}
		off -= len(c.bufs[i])
		i++
	}
	return 0, false
}

// packetLen returns the size of the MQTT packet at the cursor (fixed header included), or 0
// when its fixed header is incomplete or malformed.
func (c *packetCursor) packetLen() int {
	remaining, mult := 0, 1
	for k := 1; k <= 4; k++ {
		b, ok := c.at(k)
		if !ok {
			return 0
		}
		remaining += int(b&0x7f) * mult
		if b&0x80 == 0 {
			return 1 + k + remaining
		}
		mult <<= 7
	}
	return 0
}

// take appends to dst the sub-slices holding the next n bytes and moves past them.
func (c *packetCursor) take(n int, dst [][]byte) [][]byte {
	for n > 0 && c.i < len(c.bufs) {
		b := c.bufs[c.i][c.off:]
		if len(b) > n {
			dst = append(dst, b[:n])
			c.off += n
			return dst
		}
		dst = append(dst, b)
		n -= len(b)
		c.i, c.off = c.i+1, 0
	}
	return dst
}
