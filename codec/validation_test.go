package codec

import (
	"errors"
	"testing"
)

// connect311 builds a 3.1.1 CONNECT with the given flags byte and payload.
func connect311(flags int, payload ...any) []byte {
	body := b(append([]any{0, 4, "MQTT", 4, flags, 0, 60}, payload...)...)
	return b(0x10, len(body), body)
}

// connect5 builds a 5.0 CONNECT with the given flags, properties and payload.
func connect5(flags int, props []byte, payload ...any) []byte {
	body := b(append([]any{0, 4, "MQTT", 5, flags, 0, 60, len(props), props}, payload...)...)
	return b(0x10, len(body), body)
}

// publish5 builds a 5.0 QoS 0 PUBLISH to "t" with the given properties.
func publish5(props ...any) []byte {
	p := b(props...)
	body := b(0, 1, "t", len(p), p)
	return b(0x30, len(body), body)
}

// subscribe builds a SUBSCRIBE with packet id 1 and the given payload;
// props is nil below V5.
func subscribe(props []byte, payload ...any) []byte {
	body := b(0, 1)
	if props != nil {
		body = b(body, len(props), props)
	}
	body = b(body, b(payload...))
	return b(0x82, len(body), body)
}

// TestValidation has one case per validation rule, asserting the exact
// error value and the reason code the broker sends.
func TestValidation(t *testing.T) {
	noProps := []byte{}
	f := func(name string, v Version, raw []byte, want *Error) {
		t.Helper()
		_, err := decodeAny(raw, v)
		if err != want { //nolint:errorlint // the sentinel itself is the contract
			t.Errorf("%s: got %v, want %v", name, err, want)
			return
		}
		if !errors.Is(err, want.Code) || CodeOf(err) != want.Code {
			t.Errorf("%s: code %v, want %v", name, CodeOf(err), want.Code)
		}
	}

	// Fixed header [MQTT-2.1.3-1].
	f("puback flags", V311, b(0x41, 2, 0, 1), ErrReservedFlags)
	f("pubrel flags 0000", V5, b(0x60, 2, 0, 1), ErrReservedFlags)
	f("subscribe flags", V311, b(0x80, 6, 0, 1, 0, 1, "a", 0), ErrReservedFlags)
	f("unsubscribe flags", V311, b(0xA0, 5, 0, 1, 0, 1, "a"), ErrReservedFlags)
	f("connect flags", V311, b(0x11, 12, 0, 4, "MQTT", 4, 2, 0, 0, 0, 0), ErrReservedFlags)
	f("pingreq flags", V311, b(0xC1, 0), ErrReservedFlags)
	f("disconnect flags", V5, b(0xE8, 0), ErrReservedFlags)
	f("auth flags", V5, b(0xF1, 0), ErrReservedFlags)
	f("length mismatch", V311, b(0x30, 5, 0, 1, "a"), ErrLengthMismatch)
	f("varint not minimal", V311, b(0xC0, 0x80, 0), ErrVarintNotMinimal)
	f("trailing bytes", V311, b(0xC0, 1, 0), ErrTrailingBytes)
	f("truncated string", V311, b(0x30, 2, 0, 5), ErrTruncated)
	f("auth below v5", V311, b(0xF0, 0), ErrAuthBeforeV5)

	// PUBLISH.
	f("qos 3", V311, b(0x36, 5, 0, 1, "a", 0, 1), ErrQoS3)
	f("dup qos 0", V311, b(0x38, 3, 0, 1, "a"), ErrDupQoS0)
	f("publish packet id 0", V311, b(0x32, 5, 0, 1, "a", 0, 0), ErrInvalidPacketID)
	f("topic '+'", V311, b(0x30, 5, 0, 3, "a/+"), ErrTopicWildcard)
	f("topic '#'", V5, b(0x30, 4, 0, 1, "#", 0), ErrTopicWildcard)
	f("topic wildcard after utf8", V311, b(0x30, 6, 0, 4, "\u00e9/#"), ErrTopicWildcard)
	f("topic empty v3", V311, b(0x30, 2, 0, 0), ErrTopicEmpty)
	f("topic empty v5 no alias", V5, b(0x30, 3, 0, 0, 0), ErrTopicMissing)
	f("topic ill-formed utf8", V311, b(0x30, 4, 0, 2, 0xC3, 0x28), ErrUTF8Invalid)
	f("topic overlong nul", V311, b(0x30, 4, 0, 2, 0xC0, 0x80), ErrUTF8Invalid)
	f("topic surrogate", V311, b(0x30, 5, 0, 3, 0xED, 0xA0, 0x80), ErrUTF8Invalid)
	f("topic U+0000", V311, b(0x30, 4, 0, 2, "a", 0), ErrUTF8Null)
	f("topic long U+0000", V311, b(0x30, 12, 0, 10, "abcdefgh", 0, "x"), ErrUTF8Null)

	// Acknowledgements.
	f("puback packet id 0", V311, b(0x40, 2, 0, 0), ErrInvalidPacketID)
	f("puback v3 long", V311, b(0x40, 3, 0, 1, 0), ErrTrailingBytes)
	f("puback bad code", V5, b(0x40, 3, 0, 1, 0x04), ErrInvalidReasonCode)
	f("pubrel bad code", V5, b(0x62, 3, 0, 1, 0x10), ErrInvalidReasonCode)
	f("ack props trailing", V5, b(0x40, 5, 0, 1, 0, 0, 9), ErrTrailingBytes)

	// CONNECT.
	f("protocol name", V311, b(0x10, 12, 0, 4, "MQTX", 4, 2, 0, 0, 0, 0), ErrProtocolName)
	f("protocol level 6", V311, b(0x10, 12, 0, 4, "MQTT", 6, 2, 0, 0, 0, 0), ErrProtocolVersion)
	f("MQIsdp level 4", V311, b(0x10, 14, 0, 6, "MQIsdp", 4, 2, 0, 0, 0, 0), ErrProtocolVersion)
	f("MQTT level 3", V311, b(0x10, 12, 0, 4, "MQTT", 3, 2, 0, 0, 0, 0), ErrProtocolVersion)
	f("connect reserved", V311, connect311(0x03, 0, 1, "c"), ErrConnectReserved)
	f("will qos without will", V311, connect311(0x0A, 0, 1, "c"), ErrWillQoSWithoutWill)
	f("will qos 3", V311, connect311(0x1E, 0, 1, "c", 0, 1, "w", 0, 0), ErrWillQoS3)
	f("will retain without will", V311, connect311(0x22, 0, 1, "c"), ErrWillRetainNoWill)
	f("password without username", V311, connect311(0x42, 0, 1, "c", 0, 1, "p"), ErrPasswordNoUsername)
	f("empty client id, clean 0", V311, connect311(0x00, 0, 0), ErrClientIDRejected)
	f("will topic wildcard", V311, connect311(0x06, 0, 1, "c", 0, 1, "+", 0, 0), ErrTopicWildcard)
	f("client id utf8", V311, connect311(0x02, 0, 1, 0xFF), ErrUTF8Invalid)
	f("username utf8", V311, connect311(0x82, 0, 1, "c", 0, 1, 0), ErrUTF8Null)
	f("connect trailing", V311, connect311(0x02, 0, 1, "c", 9), ErrTrailingBytes)
	f("connect truncated", V311, connect311(0x82, 0, 1, "c"), ErrTruncated)

	// CONNACK.
	f("connack flags", V311, b(0x20, 2, 2, 0), ErrConnackFlags)
	f("connack v3 code 6", V311, b(0x20, 2, 0, 6), ErrConnackReturnCode)
	f("connack session with failure", V5, b(0x20, 3, 1, 0x80, 0), ErrConnackSession)
	f("connack bad code", V5, b(0x20, 3, 0, 0x8E, 0), ErrInvalidReasonCode)

	// SUBSCRIBE, UNSUBSCRIBE and their acknowledgements.
	f("subscribe empty v3", V311, subscribe(nil), ErrSubscribeEmpty)
	f("subscribe empty v5", V5, subscribe(noProps), ErrSubscribeEmpty)
	f("subscribe packet id 0", V311, b(0x82, 6, 0, 0, 0, 1, "a", 0), ErrInvalidPacketID)
	f("filter empty", V311, subscribe(nil, 0, 0, 0), ErrFilterEmpty)
	f("filter '#' not last", V311, subscribe(nil, 0, 5, "a/#/b", 0), ErrFilterHashLast)
	f("filter 'a#'", V311, subscribe(nil, 0, 2, "a#", 0), ErrFilterWildcard)
	f("filter 'a+'", V311, subscribe(nil, 0, 4, "a+/b", 0), ErrFilterWildcard)
	f("filter '+a'", V311, subscribe(nil, 0, 4, "a/+a", 0), ErrFilterWildcard)
	f("filter utf8", V311, subscribe(nil, 0, 2, 0xED, 0xBF, 0), ErrUTF8Invalid)
	f("filter U+0000", V311, subscribe(nil, 0, 2, "a", 0, 0), ErrUTF8Null)
	f("share group empty", V311, subscribe(nil, 0, 9, "$share//x", 0), ErrShareNameInvalid)
	f("share group wildcard", V311, subscribe(nil, 0, 11, "$share/g+/x", 0), ErrShareNameInvalid)
	f("share no filter", V311, subscribe(nil, 0, 8, "$share/g", 0), ErrShareFilterEmpty)
	f("share empty filter", V311, subscribe(nil, 0, 9, "$share/g/", 0), ErrShareFilterEmpty)
	f("options reserved v3", V311, subscribe(nil, 0, 1, "a", 0x04), ErrSubOptionsReserved)
	f("options reserved v5", V5, subscribe(noProps, 0, 1, "a", 0x40), ErrSubOptionsReserved)
	f("subscription qos 3", V311, subscribe(nil, 0, 1, "a", 3), ErrSubQoS3)
	f("retain handling 3", V5, subscribe(noProps, 0, 1, "a", 0x30), ErrRetainHandling)
	f("no local shared", V5, subscribe(noProps, 0, 10, "$share/g/a", 0x04), ErrSharedNoLocal)
	f("unsubscribe empty", V311, b(0xA2, 2, 0, 1), ErrUnsubscribeEmpty)
	f("unsubscribe empty v5", V5, b(0xA2, 3, 0, 1, 0), ErrUnsubscribeEmpty)
	f("unsubscribe packet id 0", V311, b(0xA2, 5, 0, 0, 0, 1, "a"), ErrInvalidPacketID)
	f("unsubscribe bad filter", V311, b(0xA2, 6, 0, 1, 0, 2, "#a"), ErrFilterHashLast)
	f("suback empty", V311, b(0x90, 2, 0, 1), ErrSubackEmpty)
	f("suback v3 code", V311, b(0x90, 3, 0, 1, 3), ErrInvalidReasonCode)
	f("suback v5 code", V5, b(0x90, 4, 0, 1, 0, 0x10), ErrInvalidReasonCode)
	f("unsuback empty v5", V5, b(0xB0, 3, 0, 1, 0), ErrUnsubackEmpty)
	f("unsuback v3 codes", V311, b(0xB0, 3, 0, 1, 0), ErrTrailingBytes)
	f("unsuback v5 code", V5, b(0xB0, 4, 0, 1, 0, 0x01), ErrInvalidReasonCode)

	// DISCONNECT, AUTH.
	f("disconnect v3 body", V311, b(0xE0, 1, 0), ErrTrailingBytes)
	f("disconnect bad code", V5, b(0xE0, 1, 0x18), ErrInvalidReasonCode)
	f("auth bad code", V5, b(0xF0, 1, 0x04), ErrInvalidReasonCode)

	// Properties: table 2-4 and the value rules.
	f("property unknown", V5, publish5(0x05, 0), ErrPropertyUnknown)
	f("property id 0x80", V5, publish5(0x80, 0x01, 0), ErrPropertyUnknown)
	f("property not allowed", V5, publish5(0x11, 0, 0, 0, 1), ErrPropertyNotAllowed)
	f("will property in connect", V5, connect5(0x02, b(0x18, 0, 0, 0, 1), 0, 1, "c"), ErrPropertyNotAllowed)
	f("connect property in will", V5, connect5(0x06, noProps, 0, 1, "c", 5, 0x11, 0, 0, 0, 1, 0, 1, "w", 0, 0), ErrPropertyNotAllowed)
	f("property twice", V5, publish5(0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2), ErrPropertyDuplicate)
	f("subscription id twice in subscribe", V5, subscribe(b(0x0B, 1, 0x0B, 2), 0, 1, "a", 0), ErrPropertyDuplicate)
	f("subscription id 0", V5, subscribe(b(0x0B, 0), 0, 1, "a", 0), ErrSubscriptionIDZero)
	f("payload format 2", V5, publish5(0x01, 2), ErrPayloadFormat)
	f("topic alias 0", V5, publish5(0x23, 0, 0), ErrTopicAliasZero)
	f("response topic wildcard", V5, publish5(0x08, 0, 1, "#"), ErrTopicWildcard)
	f("content type utf8", V5, publish5(0x03, 0, 1, 0xFF), ErrUTF8Invalid)
	f("user property utf8", V5, publish5(0x26, 0, 1, "k", 0, 1, 0), ErrUTF8Null)
	f("property truncated", V5, publish5(0x02, 0, 0), ErrTruncated)
	f("property varint too long", V5, publish5(0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 1), ErrVarintTooLong)
	f("property length past end", V5, b(0x30, 4, 0, 1, "t", 9), ErrTruncated)
	f("receive maximum 0", V5, connect5(0x02, b(0x21, 0, 0), 0, 1, "c"), ErrReceiveMaximumZero)
	f("maximum packet size 0", V5, connect5(0x02, b(0x27, 0, 0, 0, 0), 0, 1, "c"), ErrMaximumPacketSizeZero)
	f("request problem info 2", V5, connect5(0x02, b(0x17, 2), 0, 1, "c"), ErrRequestProblemInfo)
	f("request response info 2", V5, connect5(0x02, b(0x19, 2), 0, 1, "c"), ErrRequestResponseInfo)
	f("auth data without method", V5, connect5(0x02, b(0x16, 0, 1, 1), 0, 1, "c"), ErrAuthDataNoMethod)
	f("maximum qos 2", V5, b(0x20, 5, 0, 0, 2, 0x24, 2), ErrMaximumQoS)
	f("retain available 2", V5, b(0x20, 5, 0, 0, 2, 0x25, 2), ErrAvailabilityFlag)
	f("shared available 2", V5, b(0x20, 5, 0, 0, 2, 0x2A, 2), ErrAvailabilityFlag)
	f("auth data without method (AUTH)", V5, b(0xF0, 6, 0x18, 4, 0x16, 0, 1, 1), ErrAuthDataNoMethod)
	f("reason string in publish", V5, publish5(0x1F, 0, 1, "x"), ErrPropertyNotAllowed)
}

func TestValidateFromClient(t *testing.T) {
	f := func(name string, p Publish, max uint16, want error) {
		t.Helper()
		if err := p.ValidateFromClient(max); err != want { //nolint:errorlint
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}
	var alias, ids Properties
	alias.SetTopicAlias(10)
	ids.AddSubscriptionID(1)
	f("no properties", Publish{Topic: []byte("t")}, 0, nil)
	f("alias within maximum", Publish{Props: alias}, 10, nil)
	f("alias above maximum", Publish{Props: alias}, 9, ErrTopicAliasExceeded)
	f("alias without aliases", Publish{Props: alias}, 0, ErrTopicAliasExceeded)
	f("subscription identifier", Publish{Topic: []byte("t"), Props: ids}, 0, ErrClientSubscriptionID)
	if CodeOf(ErrTopicAliasExceeded) != TopicAliasInvalid || CodeOf(ErrClientSubscriptionID) != ProtocolError {
		t.Fatal("codes")
	}
}

func TestFrameValidation(t *testing.T) {
	f := func(name string, buf []byte, max uint32, want error, wantTotal int) {
		t.Helper()
		h, err := Frame(buf, max)
		if err != want || h.Total != wantTotal { //nolint:errorlint
			t.Errorf("%s: Frame = %+v, %v; want total %d, %v", name, h, err, wantTotal, want)
		}
		if want != nil && CodeOf(err) != CodeOf(want) {
			t.Errorf("%s: code %v", name, CodeOf(err))
		}
	}
	f("empty", nil, 0, nil, 0)
	f("one byte", b(0x30), 0, nil, 0)
	f("type 0", b(0x00, 0), 0, ErrPacketType, 0)
	f("reserved flags", b(0x41, 2), 0, ErrReservedFlags, 0)
	f("varint 5 bytes", b(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), 0, ErrVarintTooLong, 0)
	f("varint 4 bytes need more", b(0x30, 0xFF, 0xFF, 0xFF), 0, nil, 0)
	f("varint not minimal", b(0x30, 0x80, 0x00), 0, ErrVarintNotMinimal, 0)
	f("largest length, body missing", b(0x30, 0xFF, 0xFF, 0xFF, 0x7F), 0, nil, 0)
	f("too large before body", b(0x30, 0xFF, 0x7F), 1000, ErrPacketTooLarge, 0)
	f("exactly max", b(0xC0, 0), 2, nil, 2)
	f("one over max", b(0x30, 1, 0), 2, ErrPacketTooLarge, 0)
	f("complete with extra", b(0xC0, 0, 0xD0), 0, nil, 2)

	h, _ := Frame(b(0x30, 0x80, 0x01, 1, 2, 3), 0)
	if h.HeaderLen != 3 || h.Length != 128 || h.Total != 0 {
		t.Fatalf("partial body: %+v", h)
	}
	if CodeOf(ErrPacketTooLarge) != PacketTooLarge || ErrPacketTooLarge.Code != 0x95 {
		t.Fatal("packet too large code")
	}
}

func TestCodeOf(t *testing.T) {
	f := func(err error, want ReasonCode) {
		t.Helper()
		if got := CodeOf(err); got != want {
			t.Errorf("CodeOf(%v) = %v, want %v", err, got, want)
		}
	}
	f(nil, Success)
	f(ErrQoS3, MalformedPacket)
	f(NotAuthorized, NotAuthorized)
	f(errors.Join(errors.New("x"), ErrTopicAliasZero), TopicAliasInvalid)
	f(errors.New("other"), UnspecifiedError)
	if ErrQoS3.Error() != "codec: QoS 3 [MQTT-3.3.1-4]" {
		t.Errorf("Error() = %q", ErrQoS3.Error())
	}
}

func TestReasonCodes(t *testing.T) {
	if MalformedPacket.Error() != "malformed packet" || ReasonCode(0x03).String() != "unknown reason code" {
		t.Fatal("names")
	}
	f := func(c ReasonCode, want byte) {
		t.Helper()
		if got := c.V3ConnackCode(); got != want {
			t.Errorf("%v.V3ConnackCode() = %d, want %d", c, got, want)
		}
		if int(want) < len(v3ConnackReasons) && want != V3ServerUnavailable && v3ConnackReasons[want] != c &&
			c != BadAuthenticationMethod && c != Banned {
			t.Errorf("v3ConnackReasons[%d] = %v, want %v", want, v3ConnackReasons[want], c)
		}
	}
	f(Success, 0)
	f(UnsupportedProtocolVersion, 1)
	f(ClientIdentifierNotValid, 2)
	f(ServerUnavailable, 3)
	f(ServerBusy, 3)
	f(MalformedPacket, 3)
	f(BadUserNameOrPassword, 4)
	f(BadAuthenticationMethod, 4)
	f(NotAuthorized, 5)
	f(Banned, 5)
	if !PacketTooLarge.ValidFor(TypeDisconnect) || PacketTooLarge.ValidFor(TypePuback) || ReasonCode(0).ValidFor(16) {
		t.Fatal("ValidFor")
	}
	if TypeAuth.String() != "AUTH" || PacketType(16).String() != "INVALID" || V5.String() != "5.0" {
		t.Fatal("String")
	}
}
