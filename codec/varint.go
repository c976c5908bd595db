package codec

// MaxVarint is the largest value a variable byte integer can hold (four
// bytes of seven bits), which is also the largest remaining length.
const MaxVarint = 268_435_455

// VarintSize returns how many bytes AppendVarint writes for v (1 to 4).
func VarintSize(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// AppendVarint appends v as an MQTT variable byte integer in its shortest
// form [MQTT-1.5.5-1]. It panics if v exceeds MaxVarint: callers size
// packets and properties from values already bounded by the protocol.
func AppendVarint(dst []byte, v uint32) []byte {
	if v < 1<<7 {
		return append(dst, byte(v))
	}
	if v > MaxVarint {
		panic("BUG: codec: variable byte integer out of range")
	}
	for v >= 1<<7 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// DecodeVarint decodes a variable byte integer at the start of b and returns
// its value and length in bytes. n == 0 with a nil error means b ends inside
// the integer (need more bytes). A fifth byte (ErrVarintTooLong) or a
// non-shortest encoding such as 0x80 0x00 (ErrVarintNotMinimal) is malformed.
func DecodeVarint(b []byte) (v uint32, n int, err error) {
	// The one-byte case covers nearly every property length and small packet.
	if len(b) > 0 && b[0] < 0x80 {
		return uint32(b[0]), 1, nil
	}
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, nil
		}
		c := b[i]
		v |= uint32(c&0x7F) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, 0, ErrVarintNotMinimal
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrVarintTooLong
}
