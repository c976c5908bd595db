package trace

import (
	"strconv"

	"github.com/emqgo/emqgo/codec"
)

// payloadPreview is how many payload bytes a PUBLISH line shows (quoted); the size is always
// shown.
const payloadPreview = 64

// packetText describes one whole MQTT packet for a trace line: its name and the fields that
// matter for debugging a client ("PUBLISH(topic=t/1, qos=1, retain=false, dup=false,
// packet_id=3, payload_size=5, payload=\"hello\")"). Passwords are never shown. v is the
// connection's protocol version. It runs on the connection's event loop, only for traced
// clients; the result owns its bytes.
func packetText(pkt []byte, v codec.Version) string {
	h, err := codec.FrameV(pkt, 0, v)
	if err != nil || h.Total == 0 {
		return "malformed packet (" + strconv.Itoa(len(pkt)) + " bytes)"
	}
	pkt = pkt[:h.Total]
	b := make([]byte, 0, 128)
	b = append(b, h.Type.String()...)
	b = append(b, '(')
	start := len(b)
	switch h.Type {
	case codec.TypeConnect:
		var p codec.Connect
		if err = p.Decode(pkt); err == nil {
			b = field(b, start, "client_id", string(p.ClientID))
			b = field(b, start, "proto_ver", p.Version.String())
			b = field(b, start, "clean_start", strconv.FormatBool(p.CleanStart))
			b = field(b, start, "keepalive", strconv.Itoa(int(p.KeepAlive)))
			if p.UsernameFlag {
				b = field(b, start, "username", string(p.Username))
			}
			if p.PasswordFlag {
				b = field(b, start, "password", "******")
			}
			if p.WillFlag {
				b = field(b, start, "will_topic", string(p.WillTopic))
				b = field(b, start, "will_qos", strconv.Itoa(int(p.WillQoS)))
				b = field(b, start, "will_retain", strconv.FormatBool(p.WillRetain))
			}
		}
	case codec.TypeConnack:
		var p codec.Connack
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "session_present", strconv.FormatBool(p.SessionPresent))
			b = code(b, start, p.Code)
		}
	case codec.TypePublish:
		var p codec.Publish
		if err = p.Decode(pkt, v); err == nil {
			if len(p.Topic) > 0 || !p.Props.Has(codec.PropTopicAlias) {
				b = field(b, start, "topic", string(p.Topic))
			}
			if p.Props.Has(codec.PropTopicAlias) {
				b = field(b, start, "topic_alias", strconv.Itoa(int(p.Props.TopicAlias)))
			}
			b = field(b, start, "qos", strconv.Itoa(int(p.QoS)))
			b = field(b, start, "retain", strconv.FormatBool(p.Retain))
			b = field(b, start, "dup", strconv.FormatBool(p.Dup))
			if p.QoS > 0 {
				b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			}
			b = payload(b, start, p.Payload)
		}
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		var p codec.Ack
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			if v == codec.V5 {
				b = code(b, start, p.Code)
			}
		}
	case codec.TypeSubscribe:
		var p codec.Subscribe
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			b = append(b, ", topic_filters=["...)
			for i, s := range p.Subs {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, s.Filter...)
				b = append(b, " qos="...)
				b = strconv.AppendInt(b, int64(s.QoS), 10)
				if v == codec.V5 {
					b = append(b, " nl="...)
					b = strconv.AppendBool(b, s.NoLocal)
					b = append(b, " rap="...)
					b = strconv.AppendBool(b, s.RetainAsPublished)
					b = append(b, " rh="...)
					b = strconv.AppendInt(b, int64(s.RetainHandling), 10)
				}
			}
			b = append(b, ']')
		}
	case codec.TypeSuback:
		var p codec.Suback
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			b = codes(b, p.Codes)
		}
	case codec.TypeUnsubscribe:
		var p codec.Unsubscribe
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			b = append(b, ", topic_filters=["...)
			for i, f := range p.Filters {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, f...)
			}
			b = append(b, ']')
		}
	case codec.TypeUnsuback:
		var p codec.Unsuback
		if err = p.Decode(pkt, v); err == nil {
			b = field(b, start, "packet_id", strconv.Itoa(int(p.PacketID)))
			if v == codec.V5 {
				b = codes(b, p.Codes)
			}
		}
	case codec.TypeDisconnect:
		var p codec.Disconnect
		if err = p.Decode(pkt, v); err == nil {
			b = code(b, start, p.Code)
			if rs := p.Props.ReasonString; p.Props.Has(codec.PropReasonString) {
				b = field(b, start, "reason_string", string(rs))
			}
		}
	case codec.TypeAuth:
		var p codec.Auth
		if err = p.Decode(pkt, v); err == nil {
			b = code(b, start, p.Code)
		}
	}
	if err != nil {
		b = field(b, start, "malformed", err.Error())
	}
	b = append(b, ')')
	return string(b)
}

// field appends ", name=value" (without the comma for the first field, at start).
func field(b []byte, start int, name, value string) []byte {
	if len(b) > start {
		b = append(b, ", "...)
	}
	b = append(b, name...)
	b = append(b, '=')
	return append(b, value...)
}

// code appends the reason code as "reason_code=0x87 (Not authorized)".
func code(b []byte, start int, c codec.ReasonCode) []byte {
	return field(b, start, "reason_code", hex(c)+" ("+c.String()+")")
}

// codes appends ", reason_codes=[0x00, 0x87]".
func codes(b []byte, cs []codec.ReasonCode) []byte {
	b = append(b, ", reason_codes=["...)
	for i, c := range cs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, hex(c)...)
	}
	return append(b, ']')
}

// payload appends the payload's size and its first payloadPreview bytes, quoted.
func payload(b []byte, start int, p []byte) []byte {
	b = field(b, start, "payload_size", strconv.Itoa(len(p)))
	show := p
	if len(show) > payloadPreview {
		show = show[:payloadPreview]
	}
	b = append(b, ", payload="...)
	b = strconv.AppendQuote(b, string(show))
	if len(show) < len(p) {
		b = append(b, "..."...)
	}
	return b
}

func hex(c codec.ReasonCode) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[c>>4], digits[c&15]})
}
