package codec

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet, told apart by Type.
// Byte fields of Props are borrowed from the decoded packet. Not safe for
// concurrent use.
type Ack struct {
	Type     PacketType // TypePuback, TypePubrec, TypePubrel or TypePubcomp
	PacketID uint16
	Code     ReasonCode // MQTT 5 only; Success below V5
	Props    Properties // MQTT 5 only
}

// Reset empties a, keeping the capacity of its property slices.
func (a *Ack) Reset() {
	a.Type, a.PacketID, a.Code = 0, 0, Success
	a.Props.Reset()
}

// Decode parses pkt, one whole PUBACK, PUBREC, PUBREL or PUBCOMP packet,
// for protocol version v; a.Type is taken from the packet. In MQTT 5 a
// remaining length of 2 means Success without properties and 3 a reason
// code without properties (MQTT 5.0 section 3.4.2.1).
func (a *Ack) Decode(pkt []byte, v Version) error {
	a.Code = Success
	if len(pkt) == 0 {
		a.Type, a.PacketID = 0, 0
		a.Props.clear()
		return ErrTruncated
	}
	a.Type = PacketType(pkt[0] >> 4)
	if a.Type < TypePuback || a.Type > TypePubcomp {
		a.PacketID = 0
		a.Props.clear()
		return ErrWrongPacketType
	}
	_, body, err := splitFixedV(pkt, a.Type, v) // PUBREL flags are 0010 [MQTT-3.6.1-1] (3.1: DUP may be set)
	if err == nil && len(body) < 2 {
		err = ErrTruncated
	}
	if err != nil {
		a.PacketID = 0
		a.Props.clear()
		return err
	}
	a.PacketID = uint16(body[0])<<8 | uint16(body[1])
	if a.PacketID == 0 {
		a.Props.clear()
		return ErrInvalidPacketID // [MQTT-2.2.1-3]
	}
	if len(body) == 2 {
		a.Props.clear()
		return nil
	}
	if v < V5 {
		a.Props.clear()
		return ErrTrailingBytes
	}
	a.Code = ReasonCode(body[2])
	if !a.Code.ValidFor(a.Type) {
		a.Props.clear()
		return ErrInvalidReasonCode // [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
	}
	if len(body) == 3 {
		a.Props.clear()
		return nil
	}
	r := reader{b: body, i: 3}
	if err = r.props(&a.Props, propKind(a.Type)); err != nil {
		return err
	}
	if r.len() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// AppendAck appends a encoded for version v, using the shortest MQTT 5
// form: no reason code for Success without properties, no property length
// without properties.
func AppendAck(dst []byte, a *Ack, v Version) []byte {
	first := byte(a.Type) << 4
	if a.Type == TypePubrel {
		first |= 2
	}
	if v < V5 || a.Code == Success && a.Props.Empty() {
		return append(dst, first, 2, byte(a.PacketID>>8), byte(a.PacketID))
	}
	if a.Props.Empty() {
		return append(dst, first, 3, byte(a.PacketID>>8), byte(a.PacketID), byte(a.Code))
	}
	pn := a.Props.Size()
	dst = AppendVarint(append(dst, first), uint32(3+VarintSize(uint32(pn))+pn))
	dst = append(dst, byte(a.PacketID>>8), byte(a.PacketID), byte(a.Code))
	return a.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
}
