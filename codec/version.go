package codec

// Version is the MQTT protocol level carried in CONNECT.
type Version byte

// Protocol levels.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT"
)

// Valid reports whether v is a protocol level this package speaks.
func (v Version) Valid() bool { return v >= V31 && v <= V5 }

// String returns the version as written in the specifications ("3.1", "3.1.1", "5.0").
func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return "unknown"
}

// PacketType is the MQTT control packet type, the high nibble of the first byte.
type PacketType byte

// Control packet types.
const (
	TypeConnect     PacketType = 1
	TypeConnack     PacketType = 2
	TypePublish     PacketType = 3
	TypePuback      PacketType = 4
	TypePubrec      PacketType = 5
	TypePubrel      PacketType = 6
	TypePubcomp     PacketType = 7
	TypeSubscribe   PacketType = 8
	TypeSuback      PacketType = 9
	TypeUnsubscribe PacketType = 10
	TypeUnsuback    PacketType = 11
	TypePingreq     PacketType = 12
	TypePingresp    PacketType = 13
	TypeDisconnect  PacketType = 14
	TypeAuth        PacketType = 15 // MQTT 5 only
)

var packetTypeNames = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the packet name as the specification spells it, e.g. "PUBLISH".
func (t PacketType) String() string {
	if t < 16 {
		return packetTypeNames[t]
	}
	return "INVALID"
}

// fixedFlags holds the value the low nibble of the first byte must have for
// each packet type; PUBLISH (whose flags carry DUP, QoS and RETAIN) is
// marked 0xFF. Types 0 and, below MQTT 5, 15 are reserved and never valid.
var fixedFlags = [16]byte{
	0xFF, 0, 0, 0xFF, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0,
}
