package codec

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
