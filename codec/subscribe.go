package codec

// Subscription is one topic filter of a SUBSCRIBE with its options
// (MQTT 5.0 section 3.8.3.1). Filter is borrowed from the decoded packet.
type Subscription struct {
	Filter            []byte
	QoS               byte // maximum QoS, 0 to 2
	NoLocal           bool // MQTT 5
	RetainAsPublished bool // MQTT 5
	RetainHandling    byte // MQTT 5: 0 send retained, 1 only on new subscription, 2 never
}

// Subscription option bits.
const (
	subNoLocal        = 0x04
	subRetainAsPub    = 0x08
	subRetainHandling = 4 // shift
)

// Subscribe is a SUBSCRIBE packet. Filters and property bytes are borrowed
// from the decoded packet; Subs keeps its capacity across decodes. Not safe
// for concurrent use.
type Subscribe struct {
	PacketID uint16
	Props    Properties // MQTT 5: at most one subscription identifier, user properties
	Subs     []Subscription
}

// Reset empties s, keeping the capacity of its slices.
func (s *Subscribe) Reset() {
	s.PacketID, s.Subs = 0, s.Subs[:0]
	s.Props.Reset()
}

// Decode parses pkt, one whole SUBSCRIBE packet, for protocol version v.
// Every filter is checked with ValidTopicFilter, so an invalid one fails
// the packet with TopicFilterInvalid.
func (s *Subscribe) Decode(pkt []byte, v Version) error {
	s.Reset()
	_, body, err := splitFixedV(pkt, TypeSubscribe, v) // flags 0010 [MQTT-3.8.1-1] (3.1: DUP may be set)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if s.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if s.PacketID == 0 {
		return ErrInvalidPacketID // [MQTT-2.2.1-3]
	}
	if v >= V5 {
		if err = r.props(&s.Props, propKind(TypeSubscribe)); err != nil {
			return err
		}
	}
	if r.len() == 0 {
		return ErrSubscribeEmpty // [MQTT-3.8.3-2]
	}
	for r.len() > 0 {
		var sub Subscription
		if sub.Filter, err = r.binary(); err != nil {
			return err
		}
		if err = ValidTopicFilter(sub.Filter); err != nil {
			return err // [MQTT-3.8.3-1] [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.8.2-1]
		}
		opts, err := r.byte()
		if err != nil {
			return err
		}
		reserved := byte(0xC0) // [MQTT-3.8.3-5]
		if v < V5 {
			reserved = 0xFC // [MQTT-3-8.3-4](3.1.1)
		}
		if opts&reserved != 0 {
			return ErrSubOptionsReserved
		}
		sub.QoS = opts & 3
		if sub.QoS == 3 {
			return ErrSubQoS3 // section 3.8.3.1
		}
		sub.NoLocal = opts&subNoLocal != 0
		sub.RetainAsPublished = opts&subRetainAsPub != 0
		sub.RetainHandling = opts >> subRetainHandling & 3
		if sub.RetainHandling == 3 {
			return ErrRetainHandling // MQTT 5.0 section 3.8.3.1
		}
		if sub.NoLocal {
			if _, _, shared := SplitShared(sub.Filter); shared {
				return ErrSharedNoLocal // [MQTT-3.8.3-4]
			}
		}
		s.Subs = append(s.Subs, sub)
	}
	return nil
}

// options returns the subscription options byte for version v.
func (sub *Subscription) options(v Version) byte {
	o := sub.QoS & 3
	if v >= V5 {
		o |= boolBit(sub.NoLocal, subNoLocal) | boolBit(sub.RetainAsPublished, subRetainAsPub) |
			(sub.RetainHandling&3)<<subRetainHandling
	}
	return o
}

// AppendSubscribe appends s encoded for version v; the MQTT 5 options
// (NoLocal, RetainAsPublished, RetainHandling) are dropped below V5.
func AppendSubscribe(dst []byte, s *Subscribe, v Version) []byte {
	n, pn := 2, 0
	if v >= V5 {
		pn = s.Props.Size()
		n += VarintSize(uint32(pn)) + pn
	}
	for i := range s.Subs {
		n += 3 + len(s.Subs[i].Filter)
	}
	dst = AppendFixedHeader(dst, TypeSubscribe, 2, n)
	dst = appendUint16(dst, s.PacketID)
	if v >= V5 {
		dst = s.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
	}
	for i := range s.Subs {
		dst = append(appendBinary(dst, s.Subs[i].Filter), s.Subs[i].options(v))
	}
	return dst
}

// Suback is a SUBACK packet: one code per filter of the SUBSCRIBE, in
// order. Below V5 only GrantedQoS0/1/2 and UnspecifiedError (0x80, the
// 3.1.1 "Failure") are valid. Not safe for concurrent use.
type Suback struct {
	PacketID uint16
	Props    Properties // MQTT 5
	Codes    []ReasonCode
}

// Reset empties s, keeping the capacity of its slices.
func (s *Suback) Reset() {
	s.PacketID, s.Codes = 0, s.Codes[:0]
	s.Props.Reset()
}

// Decode parses pkt, one whole SUBACK packet, for protocol version v.
func (s *Suback) Decode(pkt []byte, v Version) error {
	s.Reset()
	return decodeCodes(pkt, v, TypeSuback, &s.PacketID, &s.Props, &s.Codes)
}

// AppendSuback appends s encoded for version v.
func AppendSuback(dst []byte, s *Suback, v Version) []byte {
	return appendCodes(dst, v, TypeSuback, s.PacketID, &s.Props, s.Codes)
}

// decodeCodes decodes the shared layout of SUBACK and UNSUBACK: packet
// identifier, MQTT 5 properties and a list of reason codes (none in an
// MQTT 3 UNSUBACK).
func decodeCodes(pkt []byte, v Version, t PacketType, id *uint16, props *Properties, codes *[]ReasonCode) error {
	_, body, err := splitFixed(pkt, t)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if *id, err = r.uint16(); err != nil {
		return err
	}
	if *id == 0 {
		return ErrInvalidPacketID // [MQTT-2.2.1-3]
	}
	if v >= V5 {
		if err = r.props(props, propKind(t)); err != nil {
			return err
		}
	} else if t == TypeUnsuback {
		if r.len() != 0 {
			return ErrTrailingBytes
		}
		return nil
	}
	if r.len() == 0 {
		if t == TypeSuback {
			return ErrSubackEmpty // section 3.9.3
		}
		return ErrUnsubackEmpty // section 3.11.3
	}
	for _, c := range r.rest() {
		rc := ReasonCode(c)
		if v >= V5 && !rc.ValidFor(t) || v < V5 && rc > GrantedQoS2 && rc != UnspecifiedError {
			return ErrInvalidReasonCode // [MQTT-3.9.3-2] [MQTT-3.11.3-2]
		}
		*codes = append(*codes, rc)
	}
	return nil
}

func appendCodes(dst []byte, v Version, t PacketType, id uint16, props *Properties, codes []ReasonCode) []byte {
	if v < V5 && t == TypeUnsuback {
		return append(dst, byte(t)<<4, 2, byte(id>>8), byte(id))
	}
	n, pn := 2+len(codes), 0
	if v >= V5 {
		pn = props.Size()
		n += VarintSize(uint32(pn)) + pn
	}
	dst = AppendFixedHeader(dst, t, 0, n)
	dst = appendUint16(dst, id)
	if v >= V5 {
		dst = props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst
}
