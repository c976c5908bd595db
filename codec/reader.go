package codec

// reader is a cursor over the body of one packet. Every slice it returns is
// a sub-slice of b with its capacity cut at its end (b[i:j:j]), so a caller
// appending to a decoded field can never overwrite the bytes that follow it.
type reader struct {
	b []byte
	i int
}

func (r *reader) len() int { return len(r.b) - r.i }

func (r *reader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, ErrTruncated
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

// flag reads a Byte property whose only valid values are 0 and 1.
func (r *reader) flag(bad *Error) (byte, error) {
	if r.i >= len(r.b) {
		return 0, ErrTruncated
	}
	c := r.b[r.i]
	r.i++
	if c > 1 {
		return 0, bad
	}
	return c, nil
}

func (r *reader) uint16() (uint16, error) {
	if r.i+2 > len(r.b) {
		return 0, ErrTruncated
	}
	v := uint16(r.b[r.i])<<8 | uint16(r.b[r.i+1])
	r.i += 2
	return v, nil
}

func (r *reader) uint32() (uint32, error) {
	if r.i+4 > len(r.b) {
		return 0, ErrTruncated
	}
	b := r.b[r.i : r.i+4]
	r.i += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

func (r *reader) varint() (uint32, error) {
	if r.i < len(r.b) && r.b[r.i] < 0x80 {
		r.i++
		return uint32(r.b[r.i-1]), nil
	}
	v, n, err := DecodeVarint(r.b[r.i:])
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, ErrTruncated
	}
	r.i += n
	return v, nil
}

// binary reads Binary Data: a two-byte length and that many bytes (section 1.5.6).
func (r *reader) binary() ([]byte, error) {
	if r.i+2 > len(r.b) {
		return nil, ErrTruncated
	}
	n := int(r.b[r.i])<<8 | int(r.b[r.i+1])
	start := r.i + 2
	end := start + n
	if end > len(r.b) {
		return nil, ErrTruncated
	}
	r.i = end
	return r.b[start:end:end], nil
}

// str reads a UTF-8 Encoded String and validates it [MQTT-1.5.4-1] [MQTT-1.5.4-2].
func (r *reader) str() ([]byte, error) {
	s, err := r.binary()
	if err != nil {
		return nil, err
	}
	return s, ValidUTF8String(s)
}

// rest returns the unread bytes and consumes them.
func (r *reader) rest() []byte {
	s := r.b[r.i:len(r.b):len(r.b)]
	r.i = len(r.b)
	return s
}

// props reads a property length and the properties of a packet of the given
// kind into p (which it resets first).
func (r *reader) props(p *Properties, kind propKind) error {
	n, err := r.varint()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(r.len()) {
		return ErrTruncated
	}
	end := r.i + int(n)
	err = p.decode(r.b[r.i:end:end], kind)
	r.i = end
	return err
}

// appendBinary appends a two-byte length and b; the caller guarantees
// len(b) <= 65535.
func appendBinary(dst, b []byte) []byte {
	return append(append(dst, byte(len(b)>>8), byte(len(b))), b...)
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func boolBit(b bool, bit byte) byte {
	if b {
		return bit
	}
	return 0
}
