package codec

// Header describes the fixed header at the start of a buffer, as found by Frame.
type Header struct {
	Type      PacketType // packet type, high nibble of the first byte
	Flags     byte       // low nibble of the first byte (DUP/QoS/RETAIN for PUBLISH)
	HeaderLen int        // bytes of fixed header: 1 + remaining length bytes (2 to 5)
	Length    int        // remaining length: bytes after the fixed header
	// Total is HeaderLen+Length once the whole packet is in the buffer, and 0
	// while more bytes are needed. buf[:Total] is then the packet to Decode.
	Total int
}

// Frame examines buf, the bytes read so far from a connection, without
// copying or retaining it, and reports one of three states:
//
//   - need more: h.Total == 0 and err == nil. If the fixed header is already
//     complete, h.HeaderLen and h.Length are set, so HeaderLen+Length bytes
//     can be awaited (and preallocated) without calling Frame again.
//   - a packet: h.Total > 0 and buf[:h.Total] is one whole packet.
//   - malformed: err is an *Error; the connection must be closed (after a
//     DISCONNECT with CodeOf(err) in MQTT 5).
//
// maxPacketSize bounds the whole packet (fixed header included), as MQTT 5's
// Maximum Packet Size does; 0 means the protocol maximum. An oversized packet
// fails with ErrPacketTooLarge as soon as its length bytes are in, before the
// body arrives [MQTT-3.1.2-24] [MQTT-3.2.2-15]. Frame also rejects packet
// type 0 and reserved fixed-header flags [MQTT-2.1.3-1]; type 15 (AUTH) is
// accepted here and refused by the decoders below MQTT 5.
func Frame(buf []byte, maxPacketSize uint32) (h Header, err error) {
	return FrameV(buf, maxPacketSize, 0)
}

// FrameV is Frame for a connection whose protocol version v is known (0 before CONNECT): MQTT
// 3.1 lets a client resend PUBREL, SUBSCRIBE and UNSUBSCRIBE with the DUP bit set (its fixed
// header flags were DUP, QoS 1, RETAIN), which 3.1.1 made a reserved-flags violation.
func FrameV(buf []byte, maxPacketSize uint32, v Version) (h Header, err error) {
	if len(buf) < 2 {
		return h, nil
	}
	b0 := buf[0]
	h.Type, h.Flags = PacketType(b0>>4), b0&0x0F
	if h.Type == 0 {
		return Header{}, ErrPacketType
	}
	if f := fixedFlags[h.Type]; f != 0xFF && f != h.Flags && !dupAllowed(h.Type, h.Flags, v) {
		return Header{}, ErrReservedFlags
	}
	var length uint32
	var n int
	if c := buf[1]; c < 0x80 {
		length, n = uint32(c), 1
	} else if length, n, err = DecodeVarint(buf[1:]); err != nil {
		return Header{}, err
	} else if n == 0 {
		return Header{}, nil
	}
	h.HeaderLen, h.Length = 1+n, int(length)
	if maxPacketSize != 0 && uint64(h.HeaderLen)+uint64(length) > uint64(maxPacketSize) {
		return Header{}, ErrPacketTooLarge
	}
	if total := h.HeaderLen + h.Length; len(buf) >= total {
		h.Total = total
	}
	return h, nil
}

// AppendFixedHeader appends a fixed header: the first byte (type<<4 | flags)
// and remaining as a variable byte integer.
func AppendFixedHeader(dst []byte, t PacketType, flags byte, remaining int) []byte {
	return AppendVarint(append(dst, byte(t)<<4|flags&0x0F), uint32(remaining))
}

// body returns the bytes after a fixed header whose remaining length takes
// one or two bytes and matches pkt exactly, which covers packets up to
// 16 KiB; ok is false otherwise and the caller falls back to splitFixed,
// which also reports why. It checks neither type nor flags.
func body(pkt []byte) (b []byte, ok bool) {
	if len(pkt) < 3 {
		return pkt[min(len(pkt), 2):], len(pkt) == 2 && pkt[1] == 0
	}
	if c := pkt[1]; c < 0x80 {
		return pkt[2:], int(c) == len(pkt)-2
	}
	// Two-byte length; a zero second byte would not be minimal.
	n := int(pkt[1]&0x7F) | int(pkt[2])<<7
	return pkt[3:], pkt[2]-1 < 0x7F && n == len(pkt)-3
}

// splitFixed checks the fixed header of a whole packet against type t and
// returns its flags and body (the bytes after the fixed header). The
// remaining length must match len(pkt) exactly.
func splitFixed(pkt []byte, t PacketType) (flags byte, body []byte, err error) {
	return splitFixedV(pkt, t, 0)
}

// dupAllowed reports whether flags, which differ from the fixed flags of t, are those of an
// MQTT 3.1 retransmission: PUBREL, SUBSCRIBE or UNSUBSCRIBE with QoS 1 and DUP set (MQTT 3.1
// sections 3.6, 3.8 and 3.10).
func dupAllowed(t PacketType, flags byte, v Version) bool {
	return v == V31 && flags == 0x0A && (t == TypePubrel || t == TypeSubscribe || t == TypeUnsubscribe)
}

// splitFixedV is splitFixed for protocol version v (see FrameV).
func splitFixedV(pkt []byte, t PacketType, v Version) (flags byte, body []byte, err error) {
	if len(pkt) < 2 {
		return 0, nil, ErrTruncated
	}
	if PacketType(pkt[0]>>4) != t {
		return 0, nil, ErrWrongPacketType
	}
	flags = pkt[0] & 0x0F
	if f := fixedFlags[t]; f != 0xFF && f != flags && !dupAllowed(t, flags, v) {
		return 0, nil, ErrReservedFlags
	}
	var length uint32
	n := 1
	if c := pkt[1]; c < 0x80 {
		length = uint32(c)
	} else if length, n, err = DecodeVarint(pkt[1:]); err != nil {
		return 0, nil, err
	} else if n == 0 {
		return 0, nil, ErrTruncated
	}
	body = pkt[1+n:]
	if uint64(len(body)) != uint64(length) {
		return 0, nil, ErrLengthMismatch
	}
	return flags, body, nil
}
