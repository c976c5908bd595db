package codec

// Connect is a CONNECT packet. Byte fields are borrowed from the decoded
// packet; Clone takes a copy that owns its bytes. Not safe for concurrent use.
type Connect struct {
	ProtocolName []byte  // "MQTT", or "MQIsdp" for 3.1; AppendConnect derives it from Version when empty
	Version      Version // protocol level
	CleanStart   bool    // Clean Start (5.0) / Clean Session (3.x)
	KeepAlive    uint16  // seconds, 0 disables
	Props        Properties
	ClientID     []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties // MQTT 5 will properties
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// Reset empties c, keeping the capacity of its property slices.
func (c *Connect) Reset() {
	props, will := c.Props, c.WillProps
	props.Reset()
	will.Reset()
	*c = Connect{Props: props, WillProps: will}
}

// CONNECT flags (MQTT 5.0 section 3.1.2.3).
const (
	connReserved     = 0x01
	connCleanStart   = 0x02
	connWill         = 0x04
	connWillQoSShift = 3
	connWillRetain   = 0x20
	connPassword     = 0x40
	connUsername     = 0x80
)

// Decode parses pkt, one whole CONNECT packet (fixed header included, as
// returned by Frame), into c. The protocol version is learnt from the
// packet. On ErrProtocolName, c.Version is 0; on any later error c.Version
// holds the level the client asked for, so the engine can answer in that
// client's CONNACK format (MQTT 3.1.1 answers an unsupported level with
// return code 1 [MQTT-3.1.2-2]). Protocol levels with mosquitto's bridge
// bit (0x83, 0x84) are not supported and fail with ErrProtocolVersion.
// Byte fields alias pkt.
func (c *Connect) Decode(pkt []byte) error {
	c.Reset()
	_, body, err := splitFixed(pkt, TypeConnect)
	if err != nil {
		return err
	}
	r := reader{b: body}
	name, err := r.binary()
	if err != nil {
		return err
	}
	level, err := r.byte()
	if err != nil {
		return err
	}
	switch string(name) {
	case "MQTT":
	case "MQIsdp":
	default:
		return ErrProtocolName // [MQTT-3.1.2-1]
	}
	c.ProtocolName, c.Version = name, Version(level)
	if (string(name) == "MQIsdp") != (c.Version == V31) || !c.Version.Valid() {
		return ErrProtocolVersion // [MQTT-3.1.2-2]
	}
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags&connReserved != 0 {
		return ErrConnectReserved // [MQTT-3.1.2-3]
	}
	c.CleanStart = flags&connCleanStart != 0
	c.WillFlag = flags&connWill != 0
	c.WillQoS = flags >> connWillQoSShift & 3
	c.WillRetain = flags&connWillRetain != 0
	c.UsernameFlag = flags&connUsername != 0
	c.PasswordFlag = flags&connPassword != 0
	switch {
	case !c.WillFlag && c.WillQoS != 0:
		return ErrWillQoSWithoutWill // [MQTT-3.1.2-11]
	case c.WillQoS == 3:
		return ErrWillQoS3 // [MQTT-3.1.2-12]
	case !c.WillFlag && c.WillRetain:
		return ErrWillRetainNoWill // [MQTT-3.1.2-13]
	case c.Version < V5 && c.PasswordFlag && !c.UsernameFlag:
		return ErrPasswordNoUsername // [MQTT-3.1.2-22](3.1.1)
	}
	if c.KeepAlive, err = r.uint16(); err != nil {
		return err
	}
	if c.Version >= V5 {
		if err = r.props(&c.Props, propKind(TypeConnect)); err != nil {
			return err
		}
	}
	// The client identifier is the first payload field and a UTF-8
	// string [MQTT-3.1.3-3] [MQTT-3.1.3-4].
	if c.ClientID, err = r.str(); err != nil {
		return err
	}
	// MQTT 3.1.1 allows an empty identifier only with a clean session
	// [MQTT-3.1.3-8](3.1.1); MQTT 3.1 requires 1 to 23 characters (the
	// upper bound is left to the broker's max client id length).
	if len(c.ClientID) == 0 && (c.Version == V31 || c.Version == V311 && !c.CleanStart) {
		return ErrClientIDRejected
	}
	if c.WillFlag {
		if c.Version >= V5 {
			if err = r.props(&c.WillProps, kindWill); err != nil {
				return err
			}
		}
		if c.WillTopic, err = r.binary(); err != nil {
			return err
		}
		// The will topic is a topic name [MQTT-3.1.3-11].
		if err = ValidTopicName(c.WillTopic); err != nil {
			return err
		}
		if c.WillPayload, err = r.binary(); err != nil {
			return err
		}
	}
	if c.UsernameFlag {
		if c.Username, err = r.str(); err != nil { // [MQTT-3.1.3-12]
			return err
		}
	}
	if c.PasswordFlag {
		if c.Password, err = r.binary(); err != nil {
			return err
		}
	}
	if r.len() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// Protocol names; read-only.
var (
	nameMQTT   = []byte("MQTT")
	nameMQIsdp = []byte("MQIsdp")
)

func (c *Connect) protocolName() []byte {
	if len(c.ProtocolName) != 0 {
		return c.ProtocolName
	}
	if c.Version == V31 {
		return nameMQIsdp
	}
	return nameMQTT
}

// AppendConnect appends c encoded for c.Version; properties are written
// only for V5, and the will and credential fields only when their flags are set.
func AppendConnect(dst []byte, c *Connect) []byte {
	name := c.protocolName()
	v5 := c.Version >= V5
	n := 2 + len(name) + 1 + 1 + 2 + 2 + len(c.ClientID)
	var pn, wn int
	if v5 {
		pn = c.Props.Size()
		n += VarintSize(uint32(pn)) + pn
	}
	flags := boolBit(c.CleanStart, connCleanStart)
	if c.WillFlag {
		flags |= connWill | (c.WillQoS&3)<<connWillQoSShift | boolBit(c.WillRetain, connWillRetain)
		n += 4 + len(c.WillTopic) + len(c.WillPayload)
		if v5 {
			wn = c.WillProps.Size()
			n += VarintSize(uint32(wn)) + wn
		}
	}
	if c.UsernameFlag {
		flags |= connUsername
		n += 2 + len(c.Username)
	}
	if c.PasswordFlag {
		flags |= connPassword
		n += 2 + len(c.Password)
	}
	dst = AppendFixedHeader(dst, TypeConnect, 0, n)
	dst = append(appendBinary(dst, name), byte(c.Version), flags)
	dst = appendUint16(dst, c.KeepAlive)
	if v5 {
		dst = c.Props.appendBody(AppendVarint(dst, uint32(pn)), allProps, true)
	}
	dst = appendBinary(dst, c.ClientID)
	if c.WillFlag {
		if v5 {
			dst = c.WillProps.appendBody(AppendVarint(dst, uint32(wn)), allProps, true)
		}
		dst = appendBinary(appendBinary(dst, c.WillTopic), c.WillPayload)
	}
	if c.UsernameFlag {
		dst = appendBinary(dst, c.Username)
	}
	if c.PasswordFlag {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}
