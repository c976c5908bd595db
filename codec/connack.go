package codec

// Connack is a CONNACK packet. For MQTT 3.x, Code holds the reason code
// equivalent of the return code (see ReasonCode.V3ConnackCode) and Props is
// unused. Byte fields are borrowed from the decoded packet. Not safe for
// concurrent use.
type Connack struct {
	SessionPresent bool
	Code           ReasonCode
	Props          Properties
}

// Reset empties c, keeping the capacity of its property slices.
func (c *Connack) Reset() {
	c.SessionPresent, c.Code = false, Success
	c.Props.Reset()
}

// Decode parses pkt, one whole CONNACK packet, for protocol version v.
func (c *Connack) Decode(pkt []byte, v Version) error {
	c.Reset()
	_, body, err := splitFixed(pkt, TypeConnack)
	if err != nil {
		return err
	}
	r := reader{b: body}
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags&^1 != 0 {
		return ErrConnackFlags // [MQTT-3.2.2-1]
	}
	c.SessionPresent = flags == 1 && v != V31 // 3.1: a reserved byte, read leniently
	code, err := r.byte()
	if err != nil {
		return err
	}
	if v < V5 {
		if int(code) >= len(v3ConnackReasons) {
			return ErrConnackReturnCode
		}
		c.Code = v3ConnackReasons[code]
	} else {
		c.Code = ReasonCode(code)
		if !c.Code.ValidFor(TypeConnack) {
			return ErrInvalidReasonCode // [MQTT-3.2.2-8]
		}
		if err = r.props(&c.Props, propKind(TypeConnack)); err != nil {
			return err
		}
	}
	if c.SessionPresent && c.Code != Success {
		return ErrConnackSession // [MQTT-3.2.2-6]
	}
	if r.len() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// AppendConnack appends c encoded for version v; below V5 the code is
// written as c.Code.V3ConnackCode() and properties are dropped.
func AppendConnack(dst []byte, c *Connack, v Version) []byte {
	flags := boolBit(c.SessionPresent, 1)
	if v == V31 {
		flags = 0 // MQTT 3.1 has no Session Present: the byte is reserved (section 3.2)
	}
	if v < V5 {
		return append(dst, byte(TypeConnack)<<4, 2, flags, c.Code.V3ConnackCode())
	}
	pn := c.Props.Size()
	dst = AppendFixedHeader(dst, TypeConnack, 0, 2+VarintSize(uint32(pn))+pn)
	dst = append(dst, flags, byte(c.Code))
	return c.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
}
