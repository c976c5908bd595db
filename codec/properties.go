package codec

import "math/bits"

// UserProperty is one User Property, a UTF-8 string pair. Both slices are
// borrowed from the decoded packet (see the package documentation).
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the MQTT 5 properties of one packet (or of a will
// message). A property is present when its bit is set (Has, the setters and
// Decode maintain the bits); user properties and subscription identifiers are
// present when their slices are non-empty. The encoders write exactly the
// present properties; a field whose bit is clear is ignored. Which property
// may appear in which packet is checked when decoding, not when encoding.
//
// Byte fields of a decoded Properties are borrowed from the packet bytes.
// User properties keep their wire order and duplicates. The zero value is
// empty and ready to use; a Properties is not safe for concurrent use.
//
// Read a field only when its property is present (Has): assign fields
// through the setters (or call Set after a direct assignment), because a
// decode into a reused struct zeroes only the fields of properties that
// were present.
type Properties struct {
	present uint64 // bit id set: property id present (single-valued ones only)

	PayloadFormat   byte     // 0x01: 0 unspecified bytes, 1 UTF-8
	MessageExpiry   uint32   // 0x02: seconds
	ContentType     []byte   // 0x03
	ResponseTopic   []byte   // 0x08
	CorrelationData []byte   // 0x09
	SubscriptionIDs []uint32 // 0x0B: several in a server→client PUBLISH, one in SUBSCRIBE

	SessionExpiry       uint32 // 0x11: seconds
	AssignedClientID    []byte // 0x12
	ServerKeepAlive     uint16 // 0x13: seconds
	AuthMethod          []byte // 0x15
	AuthData            []byte // 0x16
	RequestProblemInfo  byte   // 0x17: 0 or 1
	WillDelay           uint32 // 0x18: seconds
	RequestResponseInfo byte   // 0x19: 0 or 1
	ResponseInfo        []byte // 0x1A
	ServerReference     []byte // 0x1C
	ReasonString        []byte // 0x1F

	ReceiveMaximum       uint16 // 0x21: not 0
	TopicAliasMaximum    uint16 // 0x22
	TopicAlias           uint16 // 0x23: not 0
	MaximumQoS           byte   // 0x24: 0 or 1
	RetainAvailable      byte   // 0x25: 0 or 1
	MaximumPacketSize    uint32 // 0x27: not 0
	WildcardSubAvailable byte   // 0x28: 0 or 1
	SubIDAvailable       byte   // 0x29: 0 or 1
	SharedSubAvailable   byte   // 0x2A: 0 or 1

	User []UserProperty // 0x26, in wire order
}

// Reset empties p, keeping the capacity of its slices.
func (p *Properties) Reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropertyID) bool {
	switch id {
	case PropUser:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return id < 64 && p.present&(1<<id) != 0
}

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// Set marks property id present, for a field assigned directly. It has no
// effect for PropUser and PropSubscriptionID, present when non-empty.
func (p *Properties) Set(id PropertyID) {
	if int(id) < len(propSpecs) && propSpecs[id].wire != wireNone && (1<<id)&multiMask == 0 {
		p.present |= 1 << id
	}
}

// Clear removes property id (for PropUser and PropSubscriptionID, all of
// them), e.g. to strip a topic alias before forwarding a message.
func (p *Properties) Clear(id PropertyID) {
	switch id {
	case PropUser:
		p.User = p.User[:0]
	case PropSubscriptionID:
		p.SubscriptionIDs = p.SubscriptionIDs[:0]
	default:
		if id < 64 {
			p.present &^= 1 << id
		}
	}
}

// The setters below assign a field and mark its property present. They do
// not validate, and byte slices are stored, not copied.

// SetPayloadFormat sets the Payload Format Indicator (0x01) and marks it present.
func (p *Properties) SetPayloadFormat(v byte) {
	p.PayloadFormat = v
	p.Set(PropPayloadFormat)
}

// SetMessageExpiry sets the Message Expiry Interval (0x02) (seconds) and marks it present.
func (p *Properties) SetMessageExpiry(v uint32) {
	p.MessageExpiry = v
	p.Set(PropMessageExpiry)
}

// SetContentType sets the Content Type (0x03) and marks it present.
func (p *Properties) SetContentType(v []byte) {
	p.ContentType = v
	p.Set(PropContentType)
}

// SetResponseTopic sets the Response Topic (0x08) and marks it present.
func (p *Properties) SetResponseTopic(v []byte) {
	p.ResponseTopic = v
	p.Set(PropResponseTopic)
}

// SetCorrelationData sets the Correlation Data (0x09) and marks it present.
func (p *Properties) SetCorrelationData(v []byte) {
	p.CorrelationData = v
	p.Set(PropCorrelationData)
}

// SetSessionExpiry sets the Session Expiry Interval (0x11) (seconds) and marks it present.
func (p *Properties) SetSessionExpiry(v uint32) {
	p.SessionExpiry = v
	p.Set(PropSessionExpiry)
}

// SetAssignedClientID sets the Assigned Client Identifier (0x12) and marks it present.
func (p *Properties) SetAssignedClientID(v []byte) {
	p.AssignedClientID = v
	p.Set(PropAssignedClientID)
}

// SetServerKeepAlive sets the Server Keep Alive (0x13) (seconds) and marks it present.
func (p *Properties) SetServerKeepAlive(v uint16) {
	p.ServerKeepAlive = v
	p.Set(PropServerKeepAlive)
}

// SetAuthMethod sets the Authentication Method (0x15) and marks it present.
func (p *Properties) SetAuthMethod(v []byte) {
	p.AuthMethod = v
	p.Set(PropAuthMethod)
}

// SetAuthData sets the Authentication Data (0x16) and marks it present.
func (p *Properties) SetAuthData(v []byte) {
	p.AuthData = v
	p.Set(PropAuthData)
}

// SetRequestProblemInfo sets Request Problem Information (0x17) and marks it present.
func (p *Properties) SetRequestProblemInfo(v byte) {
	p.RequestProblemInfo = v
	p.Set(PropRequestProblemInfo)
}

// SetWillDelay sets the Will Delay Interval (0x18) (seconds) and marks it present.
func (p *Properties) SetWillDelay(v uint32) {
	p.WillDelay = v
	p.Set(PropWillDelay)
}

// SetRequestResponseInfo sets Request Response Information (0x19) and marks it present.
func (p *Properties) SetRequestResponseInfo(v byte) {
	p.RequestResponseInfo = v
	p.Set(PropRequestResponseInfo)
}

// SetResponseInfo sets the Response Information (0x1A) and marks it present.
func (p *Properties) SetResponseInfo(v []byte) {
	p.ResponseInfo = v
	p.Set(PropResponseInfo)
}

// SetServerReference sets the Server Reference (0x1C) and marks it present.
func (p *Properties) SetServerReference(v []byte) {
	p.ServerReference = v
	p.Set(PropServerReference)
}

// SetReasonString sets the Reason String (0x1F) and marks it present.
func (p *Properties) SetReasonString(v []byte) {
	p.ReasonString = v
	p.Set(PropReasonString)
}

// SetReceiveMaximum sets the Receive Maximum (0x21) and marks it present.
func (p *Properties) SetReceiveMaximum(v uint16) {
	p.ReceiveMaximum = v
	p.Set(PropReceiveMaximum)
}

// SetTopicAliasMaximum sets the Topic Alias Maximum (0x22) and marks it present.
func (p *Properties) SetTopicAliasMaximum(v uint16) {
	p.TopicAliasMaximum = v
	p.Set(PropTopicAliasMaximum)
}

// SetTopicAlias sets the Topic Alias (0x23) and marks it present.
func (p *Properties) SetTopicAlias(v uint16) {
	p.TopicAlias = v
	p.Set(PropTopicAlias)
}

// SetMaximumQoS sets the Maximum QoS (0x24) and marks it present.
func (p *Properties) SetMaximumQoS(v byte) {
	p.MaximumQoS = v
	p.Set(PropMaximumQoS)
}

// SetRetainAvailable sets Retain Available (0x25) and marks it present.
func (p *Properties) SetRetainAvailable(v byte) {
	p.RetainAvailable = v
	p.Set(PropRetainAvailable)
}

// SetMaximumPacketSize sets the Maximum Packet Size (0x27) and marks it present.
func (p *Properties) SetMaximumPacketSize(v uint32) {
	p.MaximumPacketSize = v
	p.Set(PropMaximumPacketSize)
}

// SetWildcardSubAvailable sets Wildcard Subscription Available (0x28) and marks it present.
func (p *Properties) SetWildcardSubAvailable(v byte) {
	p.WildcardSubAvailable = v
	p.Set(PropWildcardSubAvailable)
}

// SetSubIDAvailable sets Subscription Identifiers Available (0x29) and marks it present.
func (p *Properties) SetSubIDAvailable(v byte) {
	p.SubIDAvailable = v
	p.Set(PropSubIDAvailable)
}

// SetSharedSubAvailable sets Shared Subscription Available (0x2A) and marks it present.
func (p *Properties) SetSharedSubAvailable(v byte) {
	p.SharedSubAvailable = v
	p.Set(PropSharedSubAvailable)
}

// AddUser appends a user property; key and value are stored, not copied.
func (p *Properties) AddUser(key, value []byte) {
	p.User = append(p.User, UserProperty{Key: key, Value: value})
}

// AddSubscriptionID appends a subscription identifier (1 to MaxVarint).
func (p *Properties) AddSubscriptionID(id uint32) {
	p.SubscriptionIDs = append(p.SubscriptionIDs, id)
}

// clear empties p like Reset, but skips zeroing the fields when no
// property is present: fields of absent properties are then already zero
// unless assigned without their setter, which the type's contract rules out.
func (p *Properties) clear() {
	if p.present != 0 {
		p.Reset()
		return
	}
	p.User, p.SubscriptionIDs = p.User[:0], p.SubscriptionIDs[:0]
}

// decode parses the property bytes b (without their length prefix) of a
// packet of the given kind into p, after clearing p. One switch on the
// identifier both dispatches on the wire type and applies the value rules.
func (p *Properties) decode(b []byte, kind propKind) (err error) {
	p.clear()
	if len(b) == 0 {
		return nil
	}
	r := reader{b: b}
	var seen uint64
	for r.i < len(b) {
		id := PropertyID(b[r.i])
		r.i++
		if int(id) >= len(propSpecs) {
			// Identifiers are variable byte integers, but all defined ones are
			// single bytes below 0x80, so anything else is unknown.
			return ErrPropertyUnknown
		}
		if propSpecs[id].allowed&(1<<kind) == 0 {
			if propSpecs[id].wire == wireNone {
				return ErrPropertyUnknown
			}
			return ErrPropertyNotAllowed
		}
		bit := uint64(1) << id
		if seen&bit != 0 && id != PropUser && (id != PropSubscriptionID || kind != propKind(TypePublish)) {
			// Only user properties repeat freely; subscription identifiers
			// repeat only in PUBLISH (MQTT 5.0 section 3.3.2.3.8).
			return ErrPropertyDuplicate
		}
		seen |= bit
		switch id {
		case PropPayloadFormat:
			p.PayloadFormat, err = r.flag(ErrPayloadFormat) // (section 3.3.2.3.2)
		case PropMessageExpiry:
			p.MessageExpiry, err = r.uint32()
		case PropContentType:
			p.ContentType, err = r.str()
		case PropResponseTopic:
			if p.ResponseTopic, err = r.binary(); err == nil {
				err = ValidTopicName(p.ResponseTopic) // a topic name [MQTT-3.3.2-14]
			}
		case PropCorrelationData:
			p.CorrelationData, err = r.binary()
		case PropSubscriptionID:
			var v uint32
			if v, err = r.varint(); err == nil && v == 0 {
				err = ErrSubscriptionIDZero // (section 3.8.2.1.2) (section 3.3.2.3.8)
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
		case PropSessionExpiry:
			p.SessionExpiry, err = r.uint32()
		case PropAssignedClientID:
			p.AssignedClientID, err = r.str()
		case PropServerKeepAlive:
			p.ServerKeepAlive, err = r.uint16()
		case PropAuthMethod:
			p.AuthMethod, err = r.str()
		case PropAuthData:
			p.AuthData, err = r.binary()
		case PropRequestProblemInfo:
			p.RequestProblemInfo, err = r.flag(ErrRequestProblemInfo)
		case PropWillDelay:
			p.WillDelay, err = r.uint32()
		case PropRequestResponseInfo:
			p.RequestResponseInfo, err = r.flag(ErrRequestResponseInfo)
		case PropResponseInfo:
			p.ResponseInfo, err = r.str()
		case PropServerReference:
			p.ServerReference, err = r.str()
		case PropReasonString:
			p.ReasonString, err = r.str()
		case PropReceiveMaximum:
			if p.ReceiveMaximum, err = r.uint16(); err == nil && p.ReceiveMaximum == 0 {
				err = ErrReceiveMaximumZero // (section 3.1.2.11.3) (section 3.2.2.3.3)
			}
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum, err = r.uint16()
		case PropTopicAlias:
			if p.TopicAlias, err = r.uint16(); err == nil && p.TopicAlias == 0 {
				err = ErrTopicAliasZero // [MQTT-3.3.2-8]
			}
		case PropMaximumQoS:
			p.MaximumQoS, err = r.flag(ErrMaximumQoS)
		case PropRetainAvailable:
			p.RetainAvailable, err = r.flag(ErrAvailabilityFlag)
		case PropUser:
			var k, v []byte
			if k, err = r.str(); err == nil {
				v, err = r.str()
			}
			p.User = append(p.User, UserProperty{Key: k, Value: v})
		case PropMaximumPacketSize:
			if p.MaximumPacketSize, err = r.uint32(); err == nil && p.MaximumPacketSize == 0 {
				err = ErrMaximumPacketSizeZero // (section 3.1.2.11.4) (section 3.2.2.3.6)
			}
		case PropWildcardSubAvailable:
			p.WildcardSubAvailable, err = r.flag(ErrAvailabilityFlag)
		case PropSubIDAvailable:
			p.SubIDAvailable, err = r.flag(ErrAvailabilityFlag)
		case PropSharedSubAvailable:
			p.SharedSubAvailable, err = r.flag(ErrAvailabilityFlag)
		}
		if err != nil {
			return err
		}
	}
	p.present = seen &^ multiMask
	if seen&(1<<PropAuthData) != 0 && seen&(1<<PropAuthMethod) == 0 {
		return ErrAuthDataNoMethod // (section 3.1.2.11.10) (section 3.15.2.2.3)
	}
	return nil
}

// Size returns the encoded size of the present properties, without the
// property length that precedes them; EncodedLen includes it.
func (p *Properties) Size() int {
	n := 0
	for m := p.present; m != 0; m &= m - 1 {
		id := PropertyID(bits.TrailingZeros64(m))
		if int(id) >= len(propSpecs) {
			continue
		}
		switch propSpecs[id].wire {
		case wireByte:
			n += 2
		case wireUint16:
			n += 3
		case wireUint32:
			n += 5
		case wireString, wireBinary:
			n += 3 + len(p.bytesOf(id))
		}
	}
	for _, u := range p.User {
		n += 5 + len(u.Key) + len(u.Value)
	}
	for _, s := range p.SubscriptionIDs {
		n += 1 + VarintSize(s)
	}
	return n
}

// EncodedLen returns the bytes AppendTo writes: property length and properties.
func (p *Properties) EncodedLen() int {
	n := p.Size()
	return VarintSize(uint32(n)) + n
}

// AppendTo appends the property length and the present properties. Order:
// ascending identifier, then user properties in their order, then the
// per-delivery PUBLISH properties (topic alias, subscription identifiers),
// so that a PublishHeader produces the same bytes as AppendPublish.
func (p *Properties) AppendTo(dst []byte) []byte {
	return p.appendBody(AppendVarint(dst, uint32(p.Size())), allProps, true)
}

// appendBody appends the present properties whose bits are in mask (and
// the user properties if users), then the per-delivery ones in mask.
func (p *Properties) appendBody(dst []byte, mask uint64, users bool) []byte {
	for m := p.present & mask &^ perDelivery; m != 0; m &= m - 1 {
		id := PropertyID(bits.TrailingZeros64(m))
		if int(id) >= len(propSpecs) {
			continue
		}
		dst = append(dst, byte(id))
		switch propSpecs[id].wire {
		case wireByte:
			dst = append(dst, p.byteOf(id))
		case wireUint16:
			dst = appendUint16(dst, p.uint16Of(id))
		case wireUint32:
			dst = appendUint32(dst, p.uint32Of(id))
		case wireString, wireBinary:
			dst = appendBinary(dst, p.bytesOf(id))
		}
	}
	if users {
		for _, u := range p.User {
			dst = appendBinary(appendBinary(append(dst, byte(PropUser)), u.Key), u.Value)
		}
	}
	if mask&(1<<PropTopicAlias) != 0 && p.present&(1<<PropTopicAlias) != 0 {
		dst = appendUint16(append(dst, byte(PropTopicAlias)), p.TopicAlias)
	}
	if mask&(1<<PropSubscriptionID) != 0 {
		for _, s := range p.SubscriptionIDs {
			dst = AppendVarint(append(dst, byte(PropSubscriptionID)), s)
		}
	}
	return dst
}

func (p *Properties) byteOf(id PropertyID) byte {
	switch id {
	case PropPayloadFormat:
		return p.PayloadFormat
	case PropRequestProblemInfo:
		return p.RequestProblemInfo
	case PropRequestResponseInfo:
		return p.RequestResponseInfo
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubAvailable:
		return p.WildcardSubAvailable
	case PropSubIDAvailable:
		return p.SubIDAvailable
	case PropSharedSubAvailable:
		return p.SharedSubAvailable
	}
	return 0
}

func (p *Properties) uint16Of(id PropertyID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return p.TopicAlias
	}
	return 0
}

func (p *Properties) uint32Of(id PropertyID) uint32 {
	switch id {
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

// bytesOf returns a pointer-free view of the byte field of a string or
// binary property.
func (p *Properties) bytesOf(id PropertyID) []byte {
	if f := p.bytesField(id); f != nil {
		return *f
	}
	return nil
}

// bytesField returns the address of the byte field of a string or binary
// property, or nil; Clone uses it to rewrite all of them.
func (p *Properties) bytesField(id PropertyID) *[]byte {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropCorrelationData:
		return &p.CorrelationData
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropAuthData:
		return &p.AuthData
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	case PropReasonString:
		return &p.ReasonString
	}
	return nil
}
