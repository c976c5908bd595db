package codec

import "math/bits"

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
