package codec

// Publish is a PUBLISH packet. Topic, Payload and the byte fields of Props
// are borrowed from the decoded packet; Clone takes a copy that owns its
// bytes. Not safe for concurrent use.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // empty in MQTT 5 when a topic alias stands for it
	PacketID uint16 // 0 for QoS 0
	Props    Properties
	Payload  []byte
}

// Reset empties p, keeping the capacity of its property slices.
func (p *Publish) Reset() {
	p.Dup, p.QoS, p.Retain, p.Topic, p.PacketID, p.Payload = false, 0, false, nil, 0, nil
	p.Props.Reset()
}

// PUBLISH fixed header flags (MQTT 5.0 section 3.3.1).
const (
	pubRetain   = 0x01
	pubQoSShift = 1
	pubDup      = 0x08
)

// Decode parses pkt, one whole PUBLISH packet (fixed header included), for
// protocol version v. It checks QoS [MQTT-3.3.1-4], DUP [MQTT-3.3.1-2], the
// packet identifier [MQTT-2.2.1-3], the topic name [MQTT-3.3.2-1]
// [MQTT-3.3.2-2] and the properties. It cannot know the direction or the
// negotiated limits: a broker follows it with ValidateFromClient.
func (p *Publish) Decode(pkt []byte, v Version) error {
	var flags byte
	b, ok := body(pkt)
	if ok && pkt[0]>>4 == byte(TypePublish) {
		flags = pkt[0] & 0x0F
	} else {
		var err error
		if flags, b, err = splitFixed(pkt, TypePublish); err != nil {
			p.Reset()
			return err
		}
	}
	p.Retain = flags&pubRetain != 0
	p.QoS = flags >> pubQoSShift & 3
	p.Dup = flags&pubDup != 0
	p.PacketID = 0
	p.Payload = nil
	if v < V5 {
		p.Props.clear()
	}
	if p.QoS == 3 {
		p.Topic = nil
		return ErrQoS3 // [MQTT-3.3.1-4]
	}
	if p.Dup && p.QoS == 0 {
		p.Topic = nil
		return ErrDupQoS0 // [MQTT-3.3.1-2]
	}
	r := reader{b: b}
	var err error
	if p.Topic, err = r.binary(); err != nil {
		return err
	}
	if p.QoS > 0 {
		if p.PacketID, err = r.uint16(); err != nil {
			return err
		}
		if p.PacketID == 0 {
			return ErrInvalidPacketID // [MQTT-2.2.1-3]
		}
	}
	if v >= V5 {
		if err = r.props(&p.Props, propKind(TypePublish)); err != nil {
			return err
		}
	}
	if len(p.Topic) == 0 && v >= V5 {
		// An empty topic name stands for the one the topic alias maps to
		// (MQTT 5.0 section 3.3.2.3.4); without an alias it is an error.
		if !p.Props.Has(PropTopicAlias) {
			return ErrTopicMissing
		}
	} else if err = ValidTopicName(p.Topic); err != nil {
		return err // [MQTT-3.3.2-1] [MQTT-3.3.2-2]
	}
	p.Payload = r.rest()
	return nil
}

// ValidateFromClient applies the PUBLISH rules that depend on the
// direction and on the negotiated limits, which Decode cannot know: a
// client must not send subscription identifiers [MQTT-3.3.4-6] nor a topic
// alias above the Topic Alias Maximum the server announced in CONNACK
// [MQTT-3.3.2-9] (0 when it announced none). The broker calls it on every
// inbound MQTT 5 PUBLISH after Decode.
func (p *Publish) ValidateFromClient(topicAliasMaximum uint16) error {
	if len(p.Props.SubscriptionIDs) != 0 {
		return ErrClientSubscriptionID
	}
	if p.Props.Has(PropTopicAlias) && p.Props.TopicAlias > topicAliasMaximum {
		return ErrTopicAliasExceeded
	}
	return nil
}

func (p *Publish) firstByte() byte {
	return byte(TypePublish)<<4 | boolBit(p.Dup, pubDup) | (p.QoS&3)<<pubQoSShift | boolBit(p.Retain, pubRetain)
}

// AppendPublish appends p encoded for version v: properties only for V5,
// packet identifier only for QoS 1 and 2.
func AppendPublish(dst []byte, p *Publish, v Version) []byte {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	pn := 0
	if v >= V5 {
		pn = p.Props.Size()
		n += VarintSize(uint32(pn)) + pn
	}
	dst = AppendVarint(append(dst, p.firstByte()), uint32(n))
	dst = appendBinary(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if v >= V5 {
		dst = p.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
	}
	return append(dst, p.Payload...)
}
