package codec

// Disconnect is a DISCONNECT packet. MQTT 3 DISCONNECT is empty; Code and
// Props are MQTT 5 only. Property bytes are borrowed from the decoded
// packet. Not safe for concurrent use.
type Disconnect struct {
	Code  ReasonCode
	Props Properties
}

// Reset empties d, keeping the capacity of its property slices.
func (d *Disconnect) Reset() {
	d.Code = NormalDisconnection
	d.Props.Reset()
}

// Decode parses pkt, one whole DISCONNECT packet, for protocol version v.
// In MQTT 5 a remaining length of 0 means NormalDisconnection and 1 a code
// without properties (MQTT 5.0 section 3.14.2.1).
func (d *Disconnect) Decode(pkt []byte, v Version) error {
	d.Reset()
	return decodeCodeProps(pkt, v, TypeDisconnect, &d.Code, &d.Props)
}

// AppendDisconnect appends d encoded for version v in its shortest form.
func AppendDisconnect(dst []byte, d *Disconnect, v Version) []byte {
	return appendCodeProps(dst, v, TypeDisconnect, d.Code, &d.Props)
}

// Auth is an AUTH packet (MQTT 5 only, for enhanced authentication).
// Property bytes are borrowed from the decoded packet. Not safe for
// concurrent use.
type Auth struct {
	Code  ReasonCode // Success, ContinueAuthentication or ReAuthenticate
	Props Properties // authentication method and data, reason string, user properties
}

// Reset empties a, keeping the capacity of its property slices.
func (a *Auth) Reset() {
	a.Code = Success
	a.Props.Reset()
}

// Decode parses pkt, one whole AUTH packet. Below V5 packet type 15 is
// reserved and fails with ErrAuthBeforeV5.
func (a *Auth) Decode(pkt []byte, v Version) error {
	a.Reset()
	if v < V5 {
		return ErrAuthBeforeV5
	}
	return decodeCodeProps(pkt, v, TypeAuth, &a.Code, &a.Props)
}

// AppendAuth appends a (MQTT 5 only) in its shortest form.
func AppendAuth(dst []byte, a *Auth) []byte {
	return appendCodeProps(dst, V5, TypeAuth, a.Code, &a.Props)
}

// decodeCodeProps decodes the layout DISCONNECT and AUTH share: nothing
// below V5; in V5 an optional reason code and optional properties.
func decodeCodeProps(pkt []byte, v Version, t PacketType, code *ReasonCode, props *Properties) error {
	_, body, err := splitFixed(pkt, t) // flags 0 [MQTT-3.14.1-1] [MQTT-3.15.1-1]
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	if v < V5 {
		return ErrTrailingBytes
	}
	*code = ReasonCode(body[0])
	if !code.ValidFor(t) {
		return ErrInvalidReasonCode // [MQTT-3.14.2-1] [MQTT-3.15.2-1]
	}
	if len(body) == 1 {
		return nil
	}
	r := reader{b: body, i: 1}
	if err = r.props(props, propKind(t)); err != nil {
		return err
	}
	if r.len() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

func appendCodeProps(dst []byte, v Version, t PacketType, code ReasonCode, props *Properties) []byte {
	if v < V5 || code == Success && props.Empty() {
		return append(dst, byte(t)<<4, 0)
	}
	if props.Empty() {
		return append(dst, byte(t)<<4, 1, byte(code))
	}
	pn := props.Size()
	dst = AppendFixedHeader(dst, t, 0, 1+VarintSize(uint32(pn))+pn)
	return props.appendBody(AppendVarint(append(dst, byte(code)), uint32(pn)), allProps, true)
}

// DecodePingreq checks that pkt is a well-formed PINGREQ (no body, flags 0).
func DecodePingreq(pkt []byte) error { return decodeEmpty(pkt, TypePingreq) }

// DecodePingresp checks that pkt is a well-formed PINGRESP (no body, flags 0).
func DecodePingresp(pkt []byte) error { return decodeEmpty(pkt, TypePingresp) }

func decodeEmpty(pkt []byte, t PacketType) error {
	_, body, err := splitFixed(pkt, t)
	if err == nil && len(body) != 0 {
		err = ErrTrailingBytes
	}
	return err
}

// AppendPingreq appends a PINGREQ.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(TypePingreq)<<4, 0) }

// AppendPingresp appends a PINGRESP.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(TypePingresp)<<4, 0) }
