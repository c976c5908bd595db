package codec

// ReasonCode is an MQTT 5 reason code. It implements error so that a bare
// code can be returned and compared (errors.Is(err, codec.MalformedPacket)
// holds for every *Error carrying that code). Error and String use a static
// table and never allocate.
type ReasonCode byte

// MQTT 5 reason codes (MQTT 5.0 section 2.4). Several names share a value,
// as in the specification.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWillMessage           ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = [256]string{
	0x00: "success",
	0x01: "granted QoS 1",
	0x02: "granted QoS 2",
	0x04: "disconnect with will message",
	0x10: "no matching subscribers",
	0x11: "no subscription existed",
	0x18: "continue authentication",
	0x19: "re-authenticate",
	0x80: "unspecified error",
	0x81: "malformed packet",
	0x82: "protocol error",
	0x83: "implementation specific error",
	0x84: "unsupported protocol version",
	0x85: "client identifier not valid",
	0x86: "bad user name or password",
	0x87: "not authorized",
	0x88: "server unavailable",
	0x89: "server busy",
	0x8A: "banned",
	0x8B: "server shutting down",
	0x8C: "bad authentication method",
	0x8D: "keep alive timeout",
	0x8E: "session taken over",
	0x8F: "topic filter invalid",
	0x90: "topic name invalid",
	0x91: "packet identifier in use",
	0x92: "packet identifier not found",
	0x93: "receive maximum exceeded",
	0x94: "topic alias invalid",
	0x95: "packet too large",
	0x96: "message rate too high",
	0x97: "quota exceeded",
	0x98: "administrative action",
	0x99: "payload format invalid",
	0x9A: "retain not supported",
	0x9B: "QoS not supported",
	0x9C: "use another server",
	0x9D: "server moved",
	0x9E: "shared subscriptions not supported",
	0x9F: "connection rate exceeded",
	0xA0: "maximum connect time",
	0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// String returns the specification's name of the code in lower case, or
// "unknown reason code" for a value the specification does not define.
func (c ReasonCode) String() string {
	if s := reasonNames[c]; s != "" {
		return s
	}
	return "unknown reason code"
}

// Error implements error; it is String.
func (c ReasonCode) Error() string { return c.String() }

// IsError reports whether c signals a failure (values 0x80 and above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// MQTT 3.1/3.1.1 CONNACK return codes.
const (
	V3Accepted                    byte = 0
	V3UnacceptableProtocolVersion byte = 1
	V3IdentifierRejected          byte = 2
	V3ServerUnavailable           byte = 3
	V3BadUserNameOrPassword       byte = 4
	V3NotAuthorized               byte = 5
)

// V3ConnackCode maps c to the MQTT 3.1/3.1.1 CONNACK return code that best
// conveys it: Success→0, UnsupportedProtocolVersion→1,
// ClientIdentifierNotValid→2, BadUserNameOrPassword and
// BadAuthenticationMethod→4, NotAuthorized and Banned→5, anything else→3
// (server unavailable), the only generic refusal MQTT 3 has. MQTT 3 has no
// way to report a malformed packet or a protocol error: for those
// (MalformedPacket, ProtocolError and the like) the server closes the
// connection without a CONNACK [MQTT-4.8.0-1](3.1.1).
func (c ReasonCode) V3ConnackCode() byte {
	switch c {
	case Success:
		return V3Accepted
	case UnsupportedProtocolVersion:
		return V3UnacceptableProtocolVersion
	case ClientIdentifierNotValid:
		return V3IdentifierRejected
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return V3BadUserNameOrPassword
	case NotAuthorized, Banned:
		return V3NotAuthorized
	}
	return V3ServerUnavailable
}

// v3ConnackReasons maps the MQTT 3 CONNACK return codes 0-5 back to reason codes.
var v3ConnackReasons = [6]ReasonCode{
	Success, UnsupportedProtocolVersion, ClientIdentifierNotValid,
	ServerUnavailable, BadUserNameOrPassword, NotAuthorized,
}

// Which packets may carry which reason code (MQTT 5.0 sections 3.2.2.2,
// 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1):
// bit t of validReasons[c] is set when packet type t may carry code c.
var validReasons = func() (v [256]uint16) {
	allow := func(t PacketType, codes ...ReasonCode) {
		for _, c := range codes {
			v[c] |= 1 << t
		}
	}
	allow(TypeConnack, 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	pubAck := []ReasonCode{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}
	allow(TypePuback, pubAck...)
	allow(TypePubrec, pubAck...)
	allow(TypePubrel, 0x00, 0x92)
	allow(TypePubcomp, 0x00, 0x92)
	allow(TypeSuback, 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	allow(TypeUnsuback, 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	allow(TypeDisconnect, 0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E,
		0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E,
		0x9F, 0xA0, 0xA1, 0xA2)
	allow(TypeAuth, 0x00, 0x18, 0x19)
	return v
}()

// ValidFor reports whether an MQTT 5 packet of type t may carry code c.
func (c ReasonCode) ValidFor(t PacketType) bool { return t < 16 && validReasons[c]&(1<<t) != 0 }
