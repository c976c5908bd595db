package codec

// PublishHeader is the shared part of an outbound PUBLISH, prepared once per
// message and written once per subscriber: the topic and the properties
// common to all deliveries are encoded at Prepare, and AppendTo writes the
// fixed header, variable header and properties of one delivery, leaving the
// payload to be sent from the shared buffer (for example with Writev).
//
// A PublishHeader owns a copy of the topic and encoded properties, so it
// stays valid after the source packet's buffer is reused; its buffer is
// reused by the next Prepare. It is not safe for concurrent Prepare, but
// once prepared, concurrent AppendTo calls (each with its own dst) are safe
// because AppendTo only reads it.
type PublishHeader struct {
	buf        []byte // encoded topic name, then the common V5 properties
	topicEnd   int    // end of the topic name in buf
	payloadLen int
}

// Delivery is what differs per subscriber when a message fans out.
type Delivery struct {
	Version         Version  // the subscriber's protocol level
	QoS             byte     // granted QoS for this delivery
	Dup             bool     // set on a QoS 1/2 redelivery
	Retain          bool     // retain flag as delivered (retain-as-published or retained message)
	PacketID        uint16   // for QoS 1 and 2
	SubscriptionIDs []uint32 // MQTT 5: identifiers of the matching subscriptions
	TopicAlias      uint16   // MQTT 5: 0 for none
	OmitTopic       bool     // MQTT 5: send an empty topic name, the alias being established
}

// Prepare encodes topic and the properties of props common to every delivery
// (all but the topic alias and subscription identifiers, which are per
// delivery) for a message whose payload has payloadLen bytes. props may be
// nil. Below V5 AppendTo ignores the properties, so one PublishHeader
// serves subscribers of every version. A message sent later from a queue
// must carry its Message Expiry Interval minus the time it waited
// [MQTT-3.3.2-6]: Prepare again with the adjusted property for it.
func (h *PublishHeader) Prepare(topic []byte, props *Properties, payloadLen int) {
	h.buf = appendBinary(h.buf[:0], topic)
	h.topicEnd = len(h.buf)
	h.payloadLen = payloadLen
	if props != nil {
		h.buf = props.appendBody(h.buf, ^uint64(perDelivery), true)
	}
}

// PayloadLen returns the payload length given to Prepare.
func (h *PublishHeader) PayloadLen() int { return h.payloadLen }

// AppendTo appends the fixed header, topic name, packet identifier (QoS 1
// and 2) and, for V5, the properties of delivery d. The payload follows on
// the wire and is not appended. The bytes equal AppendPublish's for the
// same packet minus its payload.
func (h *PublishHeader) AppendTo(dst []byte, d Delivery) []byte {
	topic := h.buf[:h.topicEnd]
	if d.OmitTopic && d.Version >= V5 {
		topic = []byte{0, 0}
	}
	n := len(topic) + h.payloadLen
	if d.QoS > 0 {
		n += 2
	}
	pn := 0
	if d.Version >= V5 {
		pn = len(h.buf) - h.topicEnd
		if d.TopicAlias != 0 {
			pn += 3
		}
		for _, s := range d.SubscriptionIDs {
			pn += 1 + VarintSize(s)
		}
		n += VarintSize(uint32(pn)) + pn
	}
	first := byte(TypePublish)<<4 | boolBit(d.Dup, pubDup) | (d.QoS&3)<<pubQoSShift | boolBit(d.Retain, pubRetain)
	dst = AppendVarint(append(dst, first), uint32(n))
	dst = append(dst, topic...)
	if d.QoS > 0 {
		dst = appendUint16(dst, d.PacketID)
	}
	if d.Version >= V5 {
		dst = append(AppendVarint(dst, uint32(pn)), h.buf[h.topicEnd:]...)
		if d.TopicAlias != 0 {
			dst = appendUint16(append(dst, byte(PropTopicAlias)), d.TopicAlias)
		}
		for _, s := range d.SubscriptionIDs {
			dst = AppendVarint(append(dst, byte(PropSubscriptionID)), s)
		}
	}
	return dst
}
