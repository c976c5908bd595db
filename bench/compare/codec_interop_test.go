package compare

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/emqgo/emqgo/codec"
	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// Interoperability: packets encoded by emqgo must be read by paho.golang
// and mochi, and what paho writes back must decode with emqgo to the same
// packet. This checks our reading of the specification against two
// independent implementations.

// reencode decodes raw with emqgo and encodes the result again.
func reencode(raw []byte, v codec.Version) ([]byte, error) {
	switch codec.PacketType(raw[0] >> 4) {
	case codec.TypeConnect:
		var p codec.Connect
		if err := p.Decode(raw); err != nil {
			return nil, err
		}
		return codec.AppendConnect(nil, &p), nil
	case codec.TypeConnack:
		var p codec.Connack
		err := p.Decode(raw, v)
		return codec.AppendConnack(nil, &p, v), err
	case codec.TypePublish:
		var p codec.Publish
		err := p.Decode(raw, v)
		return codec.AppendPublish(nil, &p, v), err
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		var p codec.Ack
		err := p.Decode(raw, v)
		return codec.AppendAck(nil, &p, v), err
	case codec.TypeSubscribe:
		var p codec.Subscribe
		err := p.Decode(raw, v)
		return codec.AppendSubscribe(nil, &p, v), err
	case codec.TypeSuback:
		var p codec.Suback
		err := p.Decode(raw, v)
		return codec.AppendSuback(nil, &p, v), err
	case codec.TypeUnsubscribe:
		var p codec.Unsubscribe
		err := p.Decode(raw, v)
		return codec.AppendUnsubscribe(nil, &p, v), err
	case codec.TypeUnsuback:
		var p codec.Unsuback
		err := p.Decode(raw, v)
		return codec.AppendUnsuback(nil, &p, v), err
	case codec.TypeDisconnect:
		var p codec.Disconnect
		err := p.Decode(raw, v)
		return codec.AppendDisconnect(nil, &p, v), err
	case codec.TypeAuth:
		var p codec.Auth
		err := p.Decode(raw, v)
		return codec.AppendAuth(nil, &p), err
	case codec.TypePingreq:
		return codec.AppendPingreq(nil), codec.DecodePingreq(raw)
	case codec.TypePingresp:
		return codec.AppendPingresp(nil), codec.DecodePingresp(raw)
	}
	panic("unreachable")
}

type interopCase struct {
	name string
	raw  []byte
}

func bs(s string) []byte { return []byte(s) }

// interopPackets builds one packet of every type for version v with the
// fields and properties that version carries.
func interopPackets(v codec.Version) []interopCase {
	v5 := v == codec.V5
	var out []interopCase
	add := func(name string, raw []byte) { out = append(out, interopCase{name, raw}) }

	c := codec.Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: bs("client-1"),
		WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: bs("last/will"), WillPayload: bs("gone"),
		UsernameFlag: true, Username: bs("user"), PasswordFlag: true, Password: []byte{0, 1, 2}}
	if v5 {
		c.Props.SetSessionExpiry(3600)
		c.Props.SetReceiveMaximum(100)
		c.Props.SetMaximumPacketSize(1 << 20)
		c.Props.SetTopicAliasMaximum(16)
		c.Props.SetRequestResponseInfo(1)
		c.Props.SetRequestProblemInfo(0)
		c.Props.AddUser(bs("k"), bs("v"))
		c.WillProps.SetWillDelay(5)
		c.WillProps.SetPayloadFormat(1)
		c.WillProps.SetMessageExpiry(60)
		c.WillProps.SetContentType(bs("text/plain"))
		c.WillProps.SetResponseTopic(bs("reply"))
		c.WillProps.SetCorrelationData(bs("corr"))
	}
	add("connect", codec.AppendConnect(nil, &c))

	ca := codec.Connack{SessionPresent: true}
	if v5 {
		ca.Props.SetSessionExpiry(7200)
		ca.Props.SetReceiveMaximum(50)
		ca.Props.SetMaximumQoS(1)
		ca.Props.SetRetainAvailable(0)
		ca.Props.SetMaximumPacketSize(65536)
		ca.Props.SetAssignedClientID(bs("auto-42"))
		ca.Props.SetTopicAliasMaximum(8)
		ca.Props.SetReasonString(bs("welcome"))
		ca.Props.SetWildcardSubAvailable(1)
		ca.Props.SetSubIDAvailable(1)
		ca.Props.SetSharedSubAvailable(0)
		ca.Props.SetServerKeepAlive(60)
		ca.Props.SetResponseInfo(bs("resp/"))
		ca.Props.SetServerReference(bs("other:1883"))
		ca.Props.SetAuthMethod(bs("SCRAM"))
		ca.Props.SetAuthData(bs("xyz"))
		ca.Props.AddUser(bs("a"), bs("b"))
	}
	add("connack", codec.AppendConnack(nil, &ca, v))

	p := codec.Publish{QoS: 2, Retain: true, Dup: true, PacketID: 77, Topic: bs("a/b/c"), Payload: bs("payload")}
	if v5 {
		p.Props.SetPayloadFormat(1)
		p.Props.SetMessageExpiry(120)
		p.Props.SetContentType(bs("application/json"))
		p.Props.SetResponseTopic(bs("resp/topic"))
		p.Props.SetCorrelationData([]byte{9, 8, 7})
		p.Props.SetTopicAlias(3)
		p.Props.AddSubscriptionID(1234)
		p.Props.AddUser(bs("u1"), bs("v1"))
		p.Props.AddUser(bs("u1"), bs("v2"))
	}
	add("publish", codec.AppendPublish(nil, &p, v))

	for _, t := range []codec.PacketType{codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp} {
		a := codec.Ack{Type: t, PacketID: 77}
		if v5 {
			if t == codec.TypePubrel || t == codec.TypePubcomp {
				a.Code = codec.PacketIdentifierNotFound
			} else {
				a.Code = codec.NoMatchingSubscribers
			}
			a.Props.SetReasonString(bs("why"))
			a.Props.AddUser(bs("x"), bs("y"))
		}
		add(t.String(), codec.AppendAck(nil, &a, v))
	}

	s := codec.Subscribe{PacketID: 5, Subs: []codec.Subscription{
		{Filter: bs("a/+/c"), QoS: 1},
		{Filter: bs("#"), QoS: 2},
	}}
	if v5 {
		s.Subs[0].NoLocal = true
		s.Subs[0].RetainAsPublished = true
		s.Subs[1].RetainHandling = 2
		s.Props.AddSubscriptionID(99)
		s.Props.AddUser(bs("s"), bs("t"))
	}
	add("subscribe", codec.AppendSubscribe(nil, &s, v))

	sa := codec.Suback{PacketID: 5, Codes: []codec.ReasonCode{codec.GrantedQoS1, codec.UnspecifiedError}}
	if v5 {
		sa.Props.SetReasonString(bs("partial"))
	}
	add("suback", codec.AppendSuback(nil, &sa, v))

	u := codec.Unsubscribe{PacketID: 6, Filters: [][]byte{bs("a/+/c"), bs("#")}}
	if v5 {
		u.Props.AddUser(bs("k"), bs("v"))
	}
	add("unsubscribe", codec.AppendUnsubscribe(nil, &u, v))

	ua := codec.Unsuback{PacketID: 6}
	if v5 {
		ua.Codes = []codec.ReasonCode{codec.Success, codec.NoSubscriptionExisted}
		ua.Props.SetReasonString(bs("done"))
	}
	add("unsuback", codec.AppendUnsuback(nil, &ua, v))

	add("pingreq", codec.AppendPingreq(nil))
	add("pingresp", codec.AppendPingresp(nil))

	d := codec.Disconnect{}
	if v5 {
		d.Code = codec.ServerShuttingDown
		d.Props.SetReasonString(bs("bye"))
		d.Props.SetServerReference(bs("other:1883"))
		d.Props.SetSessionExpiry(0)
	}
	add("disconnect", codec.AppendDisconnect(nil, &d, v))

	if v5 {
		au := codec.Auth{Code: codec.ContinueAuthentication}
		au.Props.SetAuthMethod(bs("SCRAM-SHA-256"))
		au.Props.SetAuthData(bs("client-first"))
		au.Props.SetReasonString(bs("more"))
		add("auth", codec.AppendAuth(nil, &au))
	}
	return out
}

// TestInteropPaho: paho.golang reads our MQTT 5 packets, writes them back,
// and we read paho's bytes to the same packet.
func TestInteropPaho(t *testing.T) {
	for _, c := range interopPackets(codec.V5) {
		cp, err := packets.ReadPacket(bytes.NewReader(c.raw))
		if err != nil {
			t.Errorf("%s: paho cannot read ours: %v\n% x", c.name, err, c.raw)
			continue
		}
		if conn, ok := cp.Content.(*packets.Connect); ok {
			// paho reads every will property but writes back only those
			// allowed in CONNECT itself (it packs them with CONNECT's rules),
			// so check what it read, then drop the rest for the round trip.
			w := conn.WillProperties
			if w == nil || w.WillDelayInterval == nil || *w.WillDelayInterval != 5 || w.PayloadFormat == nil ||
				w.MessageExpiry == nil || *w.MessageExpiry != 60 || w.ContentType != "text/plain" ||
				w.ResponseTopic != "reply" || string(w.CorrelationData) != "corr" {
				t.Errorf("connect: paho read will properties %+v", w)
			}
			conn.WillProperties = &packets.Properties{WillDelayInterval: w.WillDelayInterval}
			var in codec.Connect
			if err := in.Decode(c.raw); err != nil {
				t.Fatal(err)
			}
			in.WillProps.Reset()
			in.WillProps.SetWillDelay(5)
			c.raw = codec.AppendConnect(nil, &in)
		}
		var buf bytes.Buffer
		if _, err := cp.WriteTo(&buf); err != nil {
			t.Fatalf("%s: paho write: %v", c.name, err)
		}
		got, err := reencode(buf.Bytes(), codec.V5)
		if err != nil {
			t.Errorf("%s: we cannot read paho's: %v\n% x", c.name, err, buf.Bytes())
			continue
		}
		if !bytes.Equal(got, c.raw) {
			t.Errorf("%s: round trip through paho differs:\nours  % x\npaho  % x\nback  % x", c.name, c.raw, buf.Bytes(), got)
		}
	}
}

// TestInteropMochi: mochi's server decoders accept our MQTT 3.1.1 and 5
// packets and read the same key fields.
func TestInteropMochi(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		for _, c := range interopPackets(v) {
			pk, err := mochiDecode(c.raw, byte(v))
			if err != nil {
				t.Errorf("v%s %s: mochi cannot read ours: %v\n% x", v, c.name, err, c.raw)
				continue
			}
			switch pk.FixedHeader.Type {
			case mochi.Connect:
				if pk.Connect.ClientIdentifier != "client-1" || string(pk.Connect.Password) != "\x00\x01\x02" ||
					pk.Connect.WillTopic != "last/will" || !pk.Connect.WillRetain || pk.Connect.WillQos != 1 {
					t.Errorf("v%s connect: %+v", v, pk.Connect)
				}
				if v == codec.V5 && (pk.Properties.ReceiveMaximum != 100 || pk.Connect.WillProperties.WillDelayInterval != 5 ||
					pk.Connect.WillProperties.ContentType != "text/plain") {
					t.Errorf("v5 connect properties: %+v %+v", pk.Properties, pk.Connect.WillProperties)
				}
			case mochi.Publish:
				if pk.TopicName != "a/b/c" || string(pk.Payload) != "payload" || pk.PacketID != 77 ||
					pk.FixedHeader.Qos != 2 || !pk.FixedHeader.Retain || !pk.FixedHeader.Dup {
					t.Errorf("v%s publish: %+v", v, pk)
				}
				if v == codec.V5 && (pk.Properties.TopicAlias != 3 || len(pk.Properties.User) != 2 ||
					len(pk.Properties.SubscriptionIdentifier) != 1 || pk.Properties.SubscriptionIdentifier[0] != 1234) {
					t.Errorf("v5 publish properties: %+v", pk.Properties)
				}
			case mochi.Subscribe:
				if len(pk.Filters) != 2 || pk.Filters[0].Filter != "a/+/c" || pk.Filters[1].Qos != 2 {
					t.Errorf("v%s subscribe: %+v", v, pk.Filters)
				}
				if v == codec.V5 && (!pk.Filters[0].NoLocal || !pk.Filters[0].RetainAsPublished || pk.Filters[1].RetainHandling != 2) {
					t.Errorf("v5 subscribe options: %+v", pk.Filters)
				}
			}
		}
	}
}

// mochiDecode reads one whole packet the way mochi's server does.
func mochiDecode(raw []byte, version byte) (mochi.Packet, error) {
	pk := mochi.Packet{ProtocolVersion: version}
	if err := pk.FixedHeader.Decode(raw[0]); err != nil {
		return pk, err
	}
	n, hl, err := mochi.DecodeLength(bufio.NewReader(bytes.NewReader(raw[1:])))
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := raw[1+hl:]
	switch pk.FixedHeader.Type {
	case mochi.Connect:
		err = pk.ConnectDecode(body)
	case mochi.Connack:
		err = pk.ConnackDecode(body)
	case mochi.Publish:
		err = pk.PublishDecode(body)
	case mochi.Puback:
		err = pk.PubackDecode(body)
	case mochi.Pubrec:
		err = pk.PubrecDecode(body)
	case mochi.Pubrel:
		err = pk.PubrelDecode(body)
	case mochi.Pubcomp:
		err = pk.PubcompDecode(body)
	case mochi.Subscribe:
		err = pk.SubscribeDecode(body)
	case mochi.Suback:
		err = pk.SubackDecode(body)
	case mochi.Unsubscribe:
		err = pk.UnsubscribeDecode(body)
	case mochi.Unsuback:
		err = pk.UnsubackDecode(body)
	case mochi.Pingreq:
		err = pk.PingreqDecode(body)
	case mochi.Pingresp:
		err = pk.PingrespDecode(body)
	case mochi.Disconnect:
		err = pk.DisconnectDecode(body)
	case mochi.Auth:
		err = pk.AuthDecode(body)
	}
	return pk, err
}
