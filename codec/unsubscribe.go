package codec

// Unsubscribe is an UNSUBSCRIBE packet. Filters and property bytes are
// borrowed from the decoded packet; Filters keeps its capacity across
// decodes. Not safe for concurrent use.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // MQTT 5: user properties
	Filters  [][]byte
}

// Reset empties u, keeping the capacity of its slices.
func (u *Unsubscribe) Reset() {
	u.PacketID, u.Filters = 0, u.Filters[:0]
	u.Props.Reset()
}

// Decode parses pkt, one whole UNSUBSCRIBE packet, for protocol version v.
// Every filter is checked with ValidTopicFilter.
func (u *Unsubscribe) Decode(pkt []byte, v Version) error {
	u.Reset()
	_, body, err := splitFixedV(pkt, TypeUnsubscribe, v) // flags 0010 [MQTT-3.10.1-1] (3.1: DUP may be set)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if u.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if u.PacketID == 0 {
		return ErrInvalidPacketID // [MQTT-2.2.1-3]
	}
	if v >= V5 {
		if err = r.props(&u.Props, propKind(TypeUnsubscribe)); err != nil {
			return err
		}
	}
	if r.len() == 0 {
		return ErrUnsubscribeEmpty // [MQTT-3.10.3-2]
	}
	for r.len() > 0 {
		f, err := r.binary()
		if err != nil {
			return err
		}
		if err = ValidTopicFilter(f); err != nil {
			return err // [MQTT-3.10.3-1]
		}
		u.Filters = append(u.Filters, f)
	}
	return nil
}

// AppendUnsubscribe appends u encoded for version v.
func AppendUnsubscribe(dst []byte, u *Unsubscribe, v Version) []byte {
	n, pn := 2, 0
	if v >= V5 {
		pn = u.Props.Size()
		n += VarintSize(uint32(pn)) + pn
	}
	for _, f := range u.Filters {
		n += 2 + len(f)
	}
	dst = AppendFixedHeader(dst, TypeUnsubscribe, 2, n)
	dst = appendUint16(dst, u.PacketID)
	if v >= V5 {
		dst = u.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
	}
	for _, f := range u.Filters {
		dst = appendBinary(dst, f)
	}
	return dst
}

// Unsuback is an UNSUBACK packet. MQTT 3 UNSUBACK carries no codes; in
// MQTT 5 there is one per filter of the UNSUBSCRIBE. Not safe for
// concurrent use.
type Unsuback struct {
	PacketID uint16
	Props    Properties // MQTT 5
	Codes    []ReasonCode
}

// Reset empties u, keeping the capacity of its slices.
func (u *Unsuback) Reset() {
	u.PacketID, u.Codes = 0, u.Codes[:0]
	u.Props.Reset()
}

// Decode parses pkt, one whole UNSUBACK packet, for protocol version v.
func (u *Unsuback) Decode(pkt []byte, v Version) error {
	u.Reset()
	return decodeCodes(pkt, v, TypeUnsuback, &u.PacketID, &u.Props, &u.Codes)
}

// AppendUnsuback appends u encoded for version v (codes and properties
// only for V5).
func AppendUnsuback(dst []byte, u *Unsuback, v Version) []byte {
	return appendCodes(dst, v, TypeUnsuback, u.PacketID, &u.Props, u.Codes)
}
