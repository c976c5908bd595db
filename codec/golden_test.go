package codec

// The golden corpus: hand-written packet bytes and the struct each decodes
// to, for every packet type and protocol level. Entries for 3.1.1 that are
// not CONNECT are also run as 3.1, whose wire format is the same.

type golden struct {
	name string
	v    Version
	raw  []byte
	pkt  any
}

func props(f func(p *Properties)) Properties {
	var p Properties
	f(&p)
	return p
}

var goldens = []golden{
	// CONNECT
	{"connect/v31", V31, b(0x10, 17, 0, 6, "MQIsdp", 3, 0x02, 0, 30, 0, 3, "c31"),
		&Connect{ProtocolName: s("MQIsdp"), Version: V31, CleanStart: true, KeepAlive: 30, ClientID: s("c31")}},
	{"connect/v311-full", V311, b(0x10, 33, 0, 4, "MQTT", 4, 0xEE, 0, 60, 0, 3, "cid",
		0, 3, "w/t", 0, 3, "bye", 0, 1, "u", 0, 3, "p\x00w"),
		&Connect{ProtocolName: s("MQTT"), Version: V311, CleanStart: true, KeepAlive: 60, ClientID: s("cid"),
			WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: s("w/t"), WillPayload: s("bye"),
			UsernameFlag: true, Username: s("u"), PasswordFlag: true, Password: s("p\x00w")}},
	{"connect/v311-empty-id-clean", V311, b(0x10, 12, 0, 4, "MQTT", 4, 0x02, 0, 0, 0, 0),
		&Connect{ProtocolName: s("MQTT"), Version: V311, CleanStart: true}},
	{"connect/v5-props-will", V5, b(0x10, 62, 0, 4, "MQTT", 5, 0xC6, 0, 10,
		15, 0x11, 0, 0, 0, 120, 0x21, 0, 20, 0x26, 0, 1, "a", 0, 1, "b",
		0, 2, "v5",
		14, 0x01, 1, 0x03, 0, 4, "text", 0x18, 0, 0, 0, 5,
		0, 1, "t", 0, 2, "hi", 0, 4, "user", 0, 2, "pw"),
		&Connect{ProtocolName: s("MQTT"), Version: V5, CleanStart: true, KeepAlive: 10,
			Props: props(func(p *Properties) {
				p.SetSessionExpiry(120)
				p.SetReceiveMaximum(20)
				p.AddUser(s("a"), s("b"))
			}),
			ClientID: s("v5"), WillFlag: true,
			WillProps: props(func(p *Properties) {
				p.SetPayloadFormat(1)
				p.SetContentType(s("text"))
				p.SetWillDelay(5)
			}),
			WillTopic: s("t"), WillPayload: s("hi"),
			UsernameFlag: true, Username: s("user"), PasswordFlag: true, Password: s("pw")}},
	{"connect/v5-password-only", V5, b(0x10, 19, 0, 4, "MQTT", 5, 0x40, 0, 0, 0, 0, 1, "x", 0, 3, "pwd"),
		&Connect{ProtocolName: s("MQTT"), Version: V5, ClientID: s("x"), PasswordFlag: true, Password: s("pwd")}},

	// CONNACK
	{"connack/v311-session", V311, b(0x20, 2, 1, 0), &Connack{SessionPresent: true}},
	{"connack/v31-reserved-byte", V31, b(0x20, 2, 0, 0), &Connack{}}, // MQTT 3.1: the first byte is reserved, 0
	{"connack/v311-not-authorized", V311, b(0x20, 2, 0, 5), &Connack{Code: NotAuthorized}},
	{"connack/v5-props", V5, b(0x20, 14, 0, 0, 11, 0x12, 0, 3, "abc", 0x22, 0, 10, 0x24, 1),
		&Connack{Props: props(func(p *Properties) {
			p.SetAssignedClientID(s("abc"))
			p.SetTopicAliasMaximum(10)
			p.SetMaximumQoS(1)
		})}},
	{"connack/v5-refused", V5, b(0x20, 3, 0, 0x87, 0), &Connack{Code: NotAuthorized}},

	// PUBLISH
	{"publish/v311-qos0", V311, b(0x30, 10, 0, 3, "a/b", "hello"),
		&Publish{Topic: s("a/b"), Payload: s("hello")}},
	{"publish/v311-qos1-dup-retain", V311, b(0x3B, 6, 0, 1, "t", 0, 7, "x"),
		&Publish{Dup: true, QoS: 1, Retain: true, Topic: s("t"), PacketID: 7, Payload: s("x")}},
	{"publish/v311-qos2-empty", V311, b(0x34, 5, 0, 1, "a", 1, 2),
		&Publish{QoS: 2, Topic: s("a"), PacketID: 0x0102}},
	{"publish/v311-utf8", V311, b(0x30, 10, 0, 8, "\u00e9/\u65e5/x"),
		&Publish{Topic: s("\u00e9/\u65e5/x")}},
	{"publish/v5-all-props", V5, b(0x32, 47, 0, 3, "s/t", 0, 9, 37,
		0x01, 1, 0x02, 0, 0, 0, 60, 0x03, 0, 4, "json", 0x08, 0, 3, "r/1", 0x09, 0, 2, "ab",
		0x26, 0, 1, "k", 0, 1, "v", 0x23, 0, 5, 0x0B, 5, "{}"),
		&Publish{QoS: 1, Topic: s("s/t"), PacketID: 9, Payload: s("{}"), Props: props(func(p *Properties) {
			p.SetPayloadFormat(1)
			p.SetMessageExpiry(60)
			p.SetContentType(s("json"))
			p.SetResponseTopic(s("r/1"))
			p.SetCorrelationData(s("ab"))
			p.AddUser(s("k"), s("v"))
			p.SetTopicAlias(5)
			p.AddSubscriptionID(5)
		})}},
	{"publish/v5-alias-only", V5, b(0x30, 7, 0, 0, 3, 0x23, 0, 1, "p"),
		&Publish{Payload: s("p"), Props: props(func(p *Properties) { p.SetTopicAlias(1) })}},
	{"publish/v5-sub-ids", V5, b(0x30, 9, 0, 1, "a", 5, 0x0B, 1, 0x0B, 0x81, 1),
		&Publish{Topic: s("a"), Props: props(func(p *Properties) {
			p.AddSubscriptionID(1)
			p.AddSubscriptionID(129)
		})}},
	{"publish/v5-user-order-dups", V5, b(0x30, 26, 0, 1, "a", 21,
		0x26, 0, 1, "z", 0, 1, "1", 0x26, 0, 1, "a", 0, 1, "2", 0x26, 0, 1, "z", 0, 1, "3", "!"),
		&Publish{Topic: s("a"), Payload: s("!"), Props: props(func(p *Properties) {
			p.AddUser(s("z"), s("1"))
			p.AddUser(s("a"), s("2"))
			p.AddUser(s("z"), s("3"))
		})}},

	// PUBACK, PUBREC, PUBREL, PUBCOMP
	{"puback/v311", V311, b(0x40, 2, 0, 1), &Ack{Type: TypePuback, PacketID: 1}},
	{"pubrec/v311", V311, b(0x50, 2, 0, 2), &Ack{Type: TypePubrec, PacketID: 2}},
	{"pubrel/v311", V311, b(0x62, 2, 0, 3), &Ack{Type: TypePubrel, PacketID: 3}},
	{"pubcomp/v311", V311, b(0x70, 2, 0, 4), &Ack{Type: TypePubcomp, PacketID: 4}},
	{"puback/v5-short", V5, b(0x40, 2, 0, 1), &Ack{Type: TypePuback, PacketID: 1}},
	{"puback/v5-code", V5, b(0x40, 3, 0, 1, 0x10), &Ack{Type: TypePuback, PacketID: 1, Code: NoMatchingSubscribers}},
	{"pubrec/v5-reason", V5, b(0x50, 10, 0, 2, 0x80, 6, 0x1F, 0, 3, "bad"),
		&Ack{Type: TypePubrec, PacketID: 2, Code: UnspecifiedError,
			Props: props(func(p *Properties) { p.SetReasonString(s("bad")) })}},
	{"pubrel/v5-not-found", V5, b(0x62, 3, 0, 3, 0x92), &Ack{Type: TypePubrel, PacketID: 3, Code: PacketIdentifierNotFound}},
	{"pubcomp/v5-user", V5, b(0x70, 11, 0, 4, 0, 7, 0x26, 0, 1, "a", 0, 1, "b"),
		&Ack{Type: TypePubcomp, PacketID: 4, Props: props(func(p *Properties) { p.AddUser(s("a"), s("b")) })}},

	// SUBSCRIBE, SUBACK
	{"subscribe/v311", V311, b(0x82, 12, 0, 10, 0, 3, "a/+", 1, 0, 1, "#", 2),
		&Subscribe{PacketID: 10, Subs: []Subscription{{Filter: s("a/+"), QoS: 1}, {Filter: s("#"), QoS: 2}}}},
	{"subscribe/v5", V5, b(0x82, 31, 0, 11, 9, 0x26, 0, 1, "k", 0, 1, "v", 0x0B, 7,
		0, 12, "$share/g/x/#", 0x19, 0, 1, "y", 0x24),
		&Subscribe{PacketID: 11, Props: props(func(p *Properties) {
			p.AddUser(s("k"), s("v"))
			p.AddSubscriptionID(7)
		}), Subs: []Subscription{
			{Filter: s("$share/g/x/#"), QoS: 1, RetainAsPublished: true, RetainHandling: 1},
			{Filter: s("y"), NoLocal: true, RetainHandling: 2},
		}}},
	{"suback/v311", V311, b(0x90, 4, 0, 10, 1, 0x80), &Suback{PacketID: 10, Codes: []ReasonCode{GrantedQoS1, UnspecifiedError}}},
	{"suback/v5", V5, b(0x90, 10, 0, 11, 5, 0x1F, 0, 2, "no", 1, 0xA1),
		&Suback{PacketID: 11, Props: props(func(p *Properties) { p.SetReasonString(s("no")) }),
			Codes: []ReasonCode{GrantedQoS1, SubscriptionIdentifiersNotSupported}}},

	// UNSUBSCRIBE, UNSUBACK
	{"unsubscribe/v311", V311, b(0xA2, 10, 0, 12, 0, 3, "a/b", 0, 1, "#"),
		&Unsubscribe{PacketID: 12, Filters: [][]byte{s("a/b"), s("#")}}},
	{"unsubscribe/v5", V5, b(0xA2, 6, 0, 13, 0, 0, 1, "x"), &Unsubscribe{PacketID: 13, Filters: [][]byte{s("x")}}},
	{"unsuback/v311", V311, b(0xB0, 2, 0, 12), &Unsuback{PacketID: 12}},
	{"unsuback/v5", V5, b(0xB0, 5, 0, 13, 0, 0, 0x11), &Unsuback{PacketID: 13, Codes: []ReasonCode{Success, NoSubscriptionExisted}}},

	// PINGREQ, PINGRESP
	{"pingreq/v311", V311, b(0xC0, 0), TypePingreq},
	{"pingresp/v311", V311, b(0xD0, 0), TypePingresp},
	{"pingreq/v5", V5, b(0xC0, 0), TypePingreq},
	{"pingresp/v5", V5, b(0xD0, 0), TypePingresp},

	// DISCONNECT
	{"disconnect/v311", V311, b(0xE0, 0), &Disconnect{}},
	{"disconnect/v5-normal", V5, b(0xE0, 0), &Disconnect{}},
	{"disconnect/v5-will", V5, b(0xE0, 1, 0x04), &Disconnect{Code: DisconnectWithWillMessage}},
	{"disconnect/v5-props", V5, b(0xE0, 11, 0x8E, 9, 0x11, 0, 0, 0, 0, 0x1F, 0, 1, "x"),
		&Disconnect{Code: SessionTakenOver, Props: props(func(p *Properties) {
			p.SetSessionExpiry(0)
			p.SetReasonString(s("x"))
		})}},

	// AUTH
	{"auth/v5-success", V5, b(0xF0, 0), &Auth{}},
	{"auth/v5-continue", V5, b(0xF0, 15, 0x18, 13, 0x15, 0, 5, "SCRAM", 0x16, 0, 2, 1, 2),
		&Auth{Code: ContinueAuthentication, Props: props(func(p *Properties) {
			p.SetAuthMethod(s("SCRAM"))
			p.SetAuthData([]byte{1, 2})
		})}},
}

// allGoldens returns the corpus with the 3.1.1 non-CONNECT entries repeated for 3.1 (but a
// CONNACK with Session Present, a flag 3.1 does not have).
func allGoldens() []golden {
	out := append([]golden(nil), goldens...)
	for _, g := range goldens {
		if g.v == V311 && PacketType(g.raw[0]>>4) != TypeConnect && g.name != "connack/v311-session" {
			g.name += "-as-v31"
			g.v = V31
			out = append(out, g)
		}
	}
	return out
}
