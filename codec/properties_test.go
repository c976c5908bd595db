package codec

import (
	"testing"
)

// fullProps sets every property with a valid value.
func fullProps() Properties {
	var p Properties
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(3600)
	p.SetContentType(s("text/plain"))
	p.SetResponseTopic(s("reply/to"))
	p.SetCorrelationData([]byte{0, 1, 2})
	p.AddSubscriptionID(268435455)
	p.SetSessionExpiry(0xFFFFFFFF)
	p.SetAssignedClientID(s("auto-1"))
	p.SetServerKeepAlive(30)
	p.SetAuthMethod(s("SCRAM-SHA-1"))
	p.SetAuthData([]byte{9, 9})
	p.SetRequestProblemInfo(0)
	p.SetWillDelay(10)
	p.SetRequestResponseInfo(1)
	p.SetResponseInfo(s("resp"))
	p.SetServerReference(s("other:1883"))
	p.SetReasonString(s("why"))
	p.SetReceiveMaximum(65535)
	p.SetTopicAliasMaximum(10)
	p.SetTopicAlias(3)
	p.SetMaximumQoS(1)
	p.SetRetainAvailable(0)
	p.AddUser(s("k1"), s("v1"))
	p.AddUser(s("k1"), s(""))
	p.SetMaximumPacketSize(1 << 20)
	p.SetWildcardSubAvailable(1)
	p.SetSubIDAvailable(0)
	p.SetSharedSubAvailable(1)
	return p
}

var allPropertyIDs = []PropertyID{
	PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic, PropCorrelationData,
	PropSubscriptionID, PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod,
	PropAuthData, PropRequestProblemInfo, PropWillDelay, PropRequestResponseInfo, PropResponseInfo,
	PropServerReference, PropReasonString, PropReceiveMaximum, PropTopicAliasMaximum, PropTopicAlias,
	PropMaximumQoS, PropRetainAvailable, PropUser, PropMaximumPacketSize, PropWildcardSubAvailable,
	PropSubIDAvailable, PropSharedSubAvailable,
}

// only returns a copy of full with just property id present (plus the
// authentication method when id is the authentication data, which needs it).
func only(full *Properties, id PropertyID) Properties {
	p := *full
	p.User, p.SubscriptionIDs = nil, nil
	p.present = 0
	switch id {
	case PropUser:
		p.User = full.User
	case PropSubscriptionID:
		p.SubscriptionIDs = full.SubscriptionIDs
	case PropAuthData:
		p.Set(PropAuthMethod)
		p.Set(id)
	default:
		p.Set(id)
	}
	return p
}

// TestPropertyPlacement decodes every property in every packet kind and
// checks it against MQTT 5.0 table 2-4.
func TestPropertyPlacement(t *testing.T) {
	full := fullProps()
	for _, id := range allPropertyIDs {
		for kind := propKind(1); kind <= kindWill; kind++ {
			if kind == propKind(TypePingreq) || kind == propKind(TypePingresp) {
				continue
			}
			p := only(&full, id)
			enc := p.AppendTo(nil)
			var got Properties
			r := reader{b: enc}
			err := r.props(&got, kind)
			var allowed bool
			if kind == kindWill {
				allowed = id.AllowedInWill()
			} else {
				allowed = id.AllowedIn(PacketType(kind))
			}
			if id == PropAuthData && !PropAuthMethod.AllowedIn(PacketType(kind)) {
				allowed = false
			}
			if allowed && err != nil || !allowed && err != ErrPropertyNotAllowed { //nolint:errorlint
				t.Errorf("property 0x%02X in kind %d: %v (allowed %v)", id, kind, err, allowed)
				continue
			}
			if allowed {
				mustEqualBytes(t, "re-encoded", got.AppendTo(nil), enc)
			}
			if allowed && !got.Has(id) {
				t.Errorf("property 0x%02X: Has = false", id)
			}
		}
	}
	// Spot checks of the table against the specification's text.
	for _, c := range []struct {
		id PropertyID
		t  PacketType
		ok bool
	}{
		{PropTopicAlias, TypePublish, true}, {PropTopicAlias, TypeConnect, false},
		{PropWillDelay, TypeConnect, false}, {PropSessionExpiry, TypeDisconnect, true},
		{PropServerReference, TypeDisconnect, true}, {PropReasonString, TypeConnect, false},
		{PropUser, TypeAuth, true}, {PropAuthMethod, TypeAuth, true}, {PropMaximumQoS, TypeConnect, false},
		{PropSubscriptionID, TypeSubscribe, true}, {PropSubscriptionID, TypeSuback, false},
	} {
		if c.id.AllowedIn(c.t) != c.ok {
			t.Errorf("AllowedIn(0x%02X, %v) != %v", c.id, c.t, c.ok)
		}
	}
}

func TestPropertiesAccessors(t *testing.T) {
	p := fullProps()
	for _, id := range allPropertyIDs {
		if !p.Has(id) {
			t.Errorf("Has(0x%02X) = false", id)
		}
	}
	if p.Has(0x05) || p.Has(200) {
		t.Fatal("Has undefined id")
	}
	p.Set(0x05) // undefined ids are ignored
	if p.Has(0x05) {
		t.Fatal("Set undefined id")
	}
	enc := p.AppendTo(nil)
	if len(enc) != p.EncodedLen() || p.EncodedLen() != VarintSize(uint32(p.Size()))+p.Size() {
		t.Fatalf("EncodedLen %d, Size %d, encoded %d", p.EncodedLen(), p.Size(), len(enc))
	}
	p.Clear(PropTopicAlias)
	p.Clear(PropUser)
	p.Clear(PropSubscriptionID)
	if p.Has(PropTopicAlias) || p.Has(PropUser) || p.Has(PropSubscriptionID) {
		t.Fatal("Clear")
	}
	c := fullProps()
	clone := c.Clone()
	c.User[0].Key[0] = 'X'
	c.ContentType[0] = 'X'
	if string(clone.User[0].Key) != "k1" || string(clone.ContentType) != "text/plain" || !samePacket(&clone, ptr(fullProps())) {
		t.Fatal("Clone shares bytes")
	}
	p.Reset()
	if !p.Empty() || cap(p.User) == 0 {
		t.Fatal("Reset")
	}
}

func ptr[T any](v T) *T { return &v }

func TestPublishHeader(t *testing.T) {
	payload := []byte("shared payload bytes")
	var common Properties
	common.SetMessageExpiry(30)
	common.SetContentType(s("text"))
	common.AddUser(s("a"), s("1"))
	common.AddUser(s("b"), s("2"))
	common.SetTopicAlias(9)       // per delivery: ignored by Prepare
	common.AddSubscriptionID(100) // likewise

	var h PublishHeader
	h.Prepare(s("sensors/room1/temp"), &common, len(payload))
	if h.PayloadLen() != len(payload) {
		t.Fatal("PayloadLen")
	}
	deliveries := []Delivery{
		{Version: V311},
		{Version: V31, QoS: 1, PacketID: 7, Retain: true},
		{Version: V311, QoS: 2, PacketID: 65535, Dup: true},
		{Version: V5},
		{Version: V5, QoS: 1, PacketID: 1, SubscriptionIDs: []uint32{1, 300, 268435455}},
		{Version: V5, QoS: 2, PacketID: 2, TopicAlias: 4},
		{Version: V5, QoS: 1, PacketID: 3, TopicAlias: 4, OmitTopic: true, Retain: true, Dup: true},
	}
	for i, d := range deliveries {
		p := Publish{Dup: d.Dup, QoS: d.QoS, Retain: d.Retain, Topic: s("sensors/room1/temp"),
			PacketID: d.PacketID, Payload: payload}
		p.Props = common
		p.Props.SubscriptionIDs = d.SubscriptionIDs
		p.Props.Clear(PropTopicAlias)
		if d.TopicAlias != 0 {
			p.Props.SetTopicAlias(d.TopicAlias)
		}
		if d.OmitTopic {
			p.Topic = nil
		}
		want := AppendPublish(nil, &p, d.Version)
		got := append(h.AppendTo(nil, d), payload...)
		mustEqualBytes(t, "delivery "+string(rune('0'+i)), got, want)
		var back Publish
		if err := back.Decode(got, d.Version); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	// No properties, large payload: the remaining length takes 3 bytes.
	h.Prepare(s("t"), nil, 100000)
	big := Publish{QoS: 1, PacketID: 5, Topic: s("t"), Payload: make([]byte, 100000)}
	want := AppendPublish(nil, &big, V5)
	mustEqualBytes(t, "big", append(h.AppendTo(nil, Delivery{Version: V5, QoS: 1, PacketID: 5}), big.Payload...), want)
}
