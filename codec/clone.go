package codec

// arena hands out sub-slices of one allocation sized in advance, so that a
// Clone copies all byte fields of a packet with a single allocation.
type arena struct{ b []byte }

// copy returns a copy of s inside the arena; nil stays nil. Capacity is cut
// at the end so that appending to one field cannot overwrite the next.
func (a *arena) copy(s []byte) []byte {
	if s == nil {
		return nil
	}
	n := len(a.b)
	a.b = append(a.b, s...)
	return a.b[n:len(a.b):len(a.b)]
}

// byteLen returns the total length of the byte fields of p.
func (p *Properties) byteLen() int {
	n := len(p.ContentType) + len(p.ResponseTopic) + len(p.CorrelationData) +
		len(p.AssignedClientID) + len(p.AuthMethod) + len(p.AuthData) +
		len(p.ResponseInfo) + len(p.ServerReference) + len(p.ReasonString)
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	return n
}

// cloneFrom sets p to a copy of src whose bytes live in a.
func (p *Properties) cloneFrom(src *Properties, a *arena) {
	*p = *src
	for _, id := range [...]PropertyID{PropContentType, PropResponseTopic, PropCorrelationData,
		PropAssignedClientID, PropAuthMethod, PropAuthData, PropResponseInfo,
		PropServerReference, PropReasonString} {
		f := p.bytesField(id)
		*f = a.copy(*f)
	}
	p.User, p.SubscriptionIDs = nil, nil
	if len(src.User) > 0 {
		p.User = make([]UserProperty, len(src.User))
		for i, u := range src.User {
			p.User[i] = UserProperty{Key: a.copy(u.Key), Value: a.copy(u.Value)}
		}
	}
	if len(src.SubscriptionIDs) > 0 {
		p.SubscriptionIDs = append([]uint32(nil), src.SubscriptionIDs...)
	}
}

// Clone returns a copy of p that owns all its bytes: one allocation holds
// the byte fields, plus one for each non-empty slice of structured values
// (user properties, subscription identifiers).
func (p *Properties) Clone() Properties {
	a := arena{b: make([]byte, 0, p.byteLen())}
	var c Properties
	c.cloneFrom(p, &a)
	return c
}

// Clone returns a copy of p that owns its bytes, for retention beyond the
// read buffer (retained messages, session queues, other event loops). Topic,
// payload and property bytes share one allocation; user properties and
// subscription identifiers, when present, take one more each.
func (p *Publish) Clone() *Publish {
	a := arena{b: make([]byte, 0, len(p.Topic)+len(p.Payload)+p.Props.byteLen())}
	c := &Publish{Dup: p.Dup, QoS: p.QoS, Retain: p.Retain, PacketID: p.PacketID}
	c.Topic = a.copy(p.Topic)
	c.Payload = a.copy(p.Payload)
	c.Props.cloneFrom(&p.Props, &a)
	return c
}

// Clone returns a copy of c that owns its bytes (for the session and the
// will message): all byte fields share one allocation.
func (c *Connect) Clone() *Connect {
	a := arena{b: make([]byte, 0, len(c.ProtocolName)+len(c.ClientID)+len(c.WillTopic)+
		len(c.WillPayload)+len(c.Username)+len(c.Password)+c.Props.byteLen()+c.WillProps.byteLen())}
	n := &Connect{Version: c.Version, CleanStart: c.CleanStart, KeepAlive: c.KeepAlive,
		WillFlag: c.WillFlag, WillQoS: c.WillQoS, WillRetain: c.WillRetain,
		UsernameFlag: c.UsernameFlag, PasswordFlag: c.PasswordFlag}
	n.ProtocolName = a.copy(c.ProtocolName)
	n.ClientID = a.copy(c.ClientID)
	n.WillTopic = a.copy(c.WillTopic)
	n.WillPayload = a.copy(c.WillPayload)
	n.Username = a.copy(c.Username)
	n.Password = a.copy(c.Password)
	n.Props.cloneFrom(&c.Props, &a)
	n.WillProps.cloneFrom(&c.WillProps, &a)
	return n
}

// Clone returns a copy of s that owns its bytes: the filters and property
// bytes share one allocation, the subscription list takes another.
func (s *Subscribe) Clone() *Subscribe {
	size := s.Props.byteLen()
	for i := range s.Subs {
		size += len(s.Subs[i].Filter)
	}
	a := arena{b: make([]byte, 0, size)}
	c := &Subscribe{PacketID: s.PacketID, Subs: make([]Subscription, len(s.Subs))}
	for i, sub := range s.Subs {
		sub.Filter = a.copy(sub.Filter)
		c.Subs[i] = sub
	}
	c.Props.cloneFrom(&s.Props, &a)
	return c
}
