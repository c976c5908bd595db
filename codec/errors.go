package codec

import "errors"

// Error is a decode or validation failure: the reason code the broker sends
// back (CONNACK or DISCONNECT in MQTT 5) and a human-readable cause naming
// the violated rule and its spec clause. The package returns only the
// package-level *Error values below, so failing costs no allocation;
// compare with == or errors.Is. Error values are immutable and safe for
// concurrent use.
type Error struct {
	Code   ReasonCode // what to send to the peer
	Reason string     // what to log, "codec: ..." with the spec clause
}

// Error returns the cause, e.g. "codec: reserved flag bits set [MQTT-2.1.3-1]".
func (e *Error) Error() string { return e.Reason }

// Unwrap returns the reason code, so errors.Is(err, codec.ProtocolError) works.
func (e *Error) Unwrap() error { return e.Code }

// CodeOf returns the reason code to send for err: Success for nil, the code
// of an *Error or a ReasonCode (also wrapped), UnspecifiedError otherwise.
func CodeOf(err error) ReasonCode {
	switch e := err.(type) {
	case nil:
		return Success
	case *Error:
		return e.Code
	case ReasonCode:
		return e
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	var rc ReasonCode
	if errors.As(err, &rc) {
		return rc
	}
	return UnspecifiedError
}

func newErr(c ReasonCode, reason string) *Error { return &Error{Code: c, Reason: "codec: " + reason} }

// Framing and fixed header.
var (
	ErrPacketType        = newErr(MalformedPacket, "reserved packet type (section 2.1.2)")
	ErrReservedFlags     = newErr(MalformedPacket, "reserved flag bits set in fixed header [MQTT-2.1.3-1] [MQTT-2.2.2-2](3.1.1)")
	ErrVarintTooLong     = newErr(MalformedPacket, "variable byte integer longer than 4 bytes (section 1.5.5)")
	ErrVarintNotMinimal  = newErr(MalformedPacket, "variable byte integer not in its shortest form [MQTT-1.5.5-1]")
	ErrPacketTooLarge    = newErr(PacketTooLarge, "packet exceeds the maximum packet size [MQTT-3.2.2-15]")
	ErrLengthMismatch    = newErr(MalformedPacket, "packet length differs from its remaining length (section 2.1.4)")
	ErrTruncated         = newErr(MalformedPacket, "field runs past the end of the packet (section 4.13.1)")
	ErrTrailingBytes     = newErr(MalformedPacket, "unexpected bytes after the last field (section 4.13.1)")
	ErrWrongPacketType   = newErr(MalformedPacket, "packet type does not match the decoder (section 2.1.2)")
	ErrAuthBeforeV5      = newErr(MalformedPacket, "AUTH packet below MQTT 5, where type 15 is reserved (section 2.1.2)")
	ErrUnknownVersion    = newErr(UnsupportedProtocolVersion, "unknown protocol version [MQTT-3.1.2-2]")
	ErrInvalidPacketID   = newErr(ProtocolError, "packet identifier 0 [MQTT-2.2.1-3]")
	ErrInvalidReasonCode = newErr(ProtocolError, "reason code not allowed in this packet [MQTT-3.4.2-1] [MQTT-3.14.2-1]")
)

// UTF-8 strings and topics.
var (
	ErrUTF8Invalid      = newErr(MalformedPacket, "ill-formed UTF-8 string or surrogate code point [MQTT-1.5.4-1]")
	ErrUTF8Null         = newErr(MalformedPacket, "UTF-8 string contains U+0000 [MQTT-1.5.4-2]")
	ErrUTF8Control      = newErr(MalformedPacket, "UTF-8 string contains a control character U+0001..U+001F or U+007F..U+009F, refused by strict_mode (MQTT 5.0 section 1.5.4, 3.1.1 section 1.5.3)")
	ErrUTF8NonCharacter = newErr(MalformedPacket, "UTF-8 string contains a Unicode non-character (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), refused by strict_mode (MQTT 5.0 section 1.5.4, 3.1.1 section 1.5.3)")
	ErrTopicEmpty       = newErr(TopicNameInvalid, "empty topic name [MQTT-4.7.3-1]")
	ErrTopicWildcard    = newErr(TopicNameInvalid, "wildcard in topic name [MQTT-3.3.2-2]")
	ErrTopicTooLong     = newErr(TopicNameInvalid, "topic longer than 65535 bytes [MQTT-4.7.3-3]")
	ErrFilterEmpty      = newErr(TopicFilterInvalid, "empty topic filter [MQTT-4.7.3-1]")
	ErrFilterTooLong    = newErr(TopicFilterInvalid, "topic filter longer than 65535 bytes [MQTT-4.7.3-3]")
	ErrFilterHashLast   = newErr(TopicFilterInvalid, "multi-level wildcard '#' not last [MQTT-4.7.1-1]")
	ErrFilterWildcard   = newErr(TopicFilterInvalid, "wildcard not alone in its topic level [MQTT-4.7.1-1] [MQTT-4.7.1-2]")
	ErrShareNameInvalid = newErr(TopicFilterInvalid, "shared subscription group name empty or contains a wildcard [MQTT-4.8.2-1] [MQTT-4.8.2-2]")
	ErrShareFilterEmpty = newErr(TopicFilterInvalid, "shared subscription without a topic filter [MQTT-4.8.2-1]")
)

// CONNECT and CONNACK.
var (
	ErrProtocolName         = newErr(UnsupportedProtocolVersion, "protocol name is not MQTT (or MQIsdp for 3.1) [MQTT-3.1.2-1]")
	ErrProtocolVersion      = newErr(UnsupportedProtocolVersion, "unsupported protocol level [MQTT-3.1.2-2]")
	ErrConnectReserved      = newErr(MalformedPacket, "CONNECT reserved flag set [MQTT-3.1.2-3]")
	ErrWillQoSWithoutWill   = newErr(MalformedPacket, "will QoS set without will flag [MQTT-3.1.2-11]")
	ErrWillQoS3             = newErr(MalformedPacket, "will QoS 3 [MQTT-3.1.2-12]")
	ErrWillRetainNoWill     = newErr(MalformedPacket, "will retain set without will flag [MQTT-3.1.2-13]")
	ErrPasswordNoUsername   = newErr(MalformedPacket, "password flag set without user name flag [MQTT-3.1.2-22](3.1.1)")
	ErrClientIDRejected     = newErr(ClientIdentifierNotValid, "empty client identifier with clean session 0 [MQTT-3.1.3-8](3.1.1)")
	ErrConnackFlags         = newErr(MalformedPacket, "CONNACK reserved acknowledge flags set [MQTT-3.2.2-1]")
	ErrConnackSession       = newErr(ProtocolError, "CONNACK session present with a failure code [MQTT-3.2.2-6]")
	ErrConnackReturnCode    = newErr(MalformedPacket, "CONNACK return code reserved in MQTT 3 (3.2.2.3)")
	ErrClientSubscriptionID = newErr(ProtocolError, "subscription identifier in a PUBLISH from a client [MQTT-3.3.4-6]")
)

// PUBLISH.
var (
	ErrQoS3               = newErr(MalformedPacket, "QoS 3 [MQTT-3.3.1-4]")
	ErrDupQoS0            = newErr(ProtocolError, "DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")
	ErrTopicAliasZero     = newErr(TopicAliasInvalid, "topic alias 0 [MQTT-3.3.2-8]")
	ErrTopicAliasExceeded = newErr(TopicAliasInvalid, "topic alias above the topic alias maximum [MQTT-3.3.2-9]")
	ErrTopicMissing       = newErr(ProtocolError, "empty topic name without a topic alias (section 3.3.2.3.4)")
)

// SUBSCRIBE and UNSUBSCRIBE, SUBACK and UNSUBACK.
var (
	ErrSubscribeEmpty     = newErr(ProtocolError, "SUBSCRIBE without a topic filter [MQTT-3.8.3-2]")
	ErrSubOptionsReserved = newErr(MalformedPacket, "subscription options reserved bits set [MQTT-3.8.3-5] [MQTT-3-8.3-4](3.1.1)")
	ErrSubQoS3            = newErr(ProtocolError, "subscription maximum QoS 3 (section 3.8.3.1) [MQTT-3-8.3-4](3.1.1)")
	ErrRetainHandling     = newErr(ProtocolError, "retain handling 3 (section 3.8.3.1)")
	ErrSharedNoLocal      = newErr(ProtocolError, "no local set on a shared subscription [MQTT-3.8.3-4]")
	ErrUnsubscribeEmpty   = newErr(ProtocolError, "UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]")
	ErrSubackEmpty        = newErr(ProtocolError, "SUBACK without a reason code (section 3.9.3)")
	ErrUnsubackEmpty      = newErr(ProtocolError, "UNSUBACK without a reason code (section 3.11.3)")
)

// Properties.
var (
	ErrPropertyUnknown       = newErr(MalformedPacket, "unknown property identifier (section 2.2.2.2)")
	ErrPropertyNotAllowed    = newErr(MalformedPacket, "property not valid for this packet type: a Malformed Packet (section 2.2.2.2)")
	ErrPropertyDuplicate     = newErr(ProtocolError, "property that may appear once appears twice (section 2.2.2.2)")
	ErrPayloadFormat         = newErr(ProtocolError, "payload format indicator other than 0 or 1 (section 3.3.2.3.2)")
	ErrRequestProblemInfo    = newErr(ProtocolError, "request problem information other than 0 or 1 (section 3.1.2.11.7)")
	ErrRequestResponseInfo   = newErr(ProtocolError, "request response information other than 0 or 1 (section 3.1.2.11.6)")
	ErrReceiveMaximumZero    = newErr(ProtocolError, "receive maximum 0 (section 3.1.2.11.3)")
	ErrMaximumPacketSizeZero = newErr(ProtocolError, "maximum packet size 0 (section 3.1.2.11.4)")
	ErrSubscriptionIDZero    = newErr(ProtocolError, "subscription identifier 0 (section 3.8.2.1.2)")
	ErrMaximumQoS            = newErr(ProtocolError, "maximum QoS other than 0 or 1 (section 3.2.2.3.4)")
	ErrAvailabilityFlag      = newErr(ProtocolError, "retain/wildcard/subscription identifier/shared subscription available other than 0 or 1 (section 3.2.2.3)")
	ErrAuthDataNoMethod      = newErr(ProtocolError, "authentication data without authentication method (section 3.1.2.11.10)")
)
