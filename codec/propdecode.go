package codec

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
