package codec

// PropertyID identifies an MQTT 5 property (MQTT 5.0 section 2.2.2.2).
// All identifiers defined so far are below 64, so a set of them fits in a uint64.
type PropertyID byte

// MQTT 5 property identifiers.
const (
	PropPayloadFormat        PropertyID = 0x01
	PropMessageExpiry        PropertyID = 0x02
	PropContentType          PropertyID = 0x03
	PropResponseTopic        PropertyID = 0x08
	PropCorrelationData      PropertyID = 0x09
	PropSubscriptionID       PropertyID = 0x0B
	PropSessionExpiry        PropertyID = 0x11
	PropAssignedClientID     PropertyID = 0x12
	PropServerKeepAlive      PropertyID = 0x13
	PropAuthMethod           PropertyID = 0x15
	PropAuthData             PropertyID = 0x16
	PropRequestProblemInfo   PropertyID = 0x17
	PropWillDelay            PropertyID = 0x18
	PropRequestResponseInfo  PropertyID = 0x19
	PropResponseInfo         PropertyID = 0x1A
	PropServerReference      PropertyID = 0x1C
	PropReasonString         PropertyID = 0x1F
	PropReceiveMaximum       PropertyID = 0x21
	PropTopicAliasMaximum    PropertyID = 0x22
	PropTopicAlias           PropertyID = 0x23
	PropMaximumQoS           PropertyID = 0x24
	PropRetainAvailable      PropertyID = 0x25
	PropUser                 PropertyID = 0x26
	PropMaximumPacketSize    PropertyID = 0x27
	PropWildcardSubAvailable PropertyID = 0x28
	PropSubIDAvailable       PropertyID = 0x29
	PropSharedSubAvailable   PropertyID = 0x2A
)

// wireType is how a property value is encoded (MQTT 5.0 section 1.5).
type wireType byte

const (
	wireNone   wireType = iota // not a property identifier
	wireByte                   // Byte
	wireUint16                 // Two Byte Integer
	wireUint32                 // Four Byte Integer
	wireVarint                 // Variable Byte Integer
	wireString                 // UTF-8 Encoded String
	wireBinary                 // Binary Data
	wirePair                   // UTF-8 String Pair
)

// propKind is the "packet kind" a property set belongs to: a packet type,
// or kindWill for the will properties in the CONNECT payload, which have
// their own list of allowed properties (MQTT 5.0 section 3.1.3.2).
type propKind uint8

const kindWill propKind = 16

const (
	kConnect     = 1 << TypeConnect
	kConnack     = 1 << TypeConnack
	kPublish     = 1 << TypePublish
	kPuback      = 1 << TypePuback
	kPubrec      = 1 << TypePubrec
	kPubrel      = 1 << TypePubrel
	kPubcomp     = 1 << TypePubcomp
	kSubscribe   = 1 << TypeSubscribe
	kSuback      = 1 << TypeSuback
	kUnsubscribe = 1 << TypeUnsubscribe
	kUnsuback    = 1 << TypeUnsuback
	kDisconnect  = 1 << TypeDisconnect
	kAuth        = 1 << TypeAuth
	kWill        = 1 << kindWill
	kAcks        = kPuback | kPubrec | kPubrel | kPubcomp
	kAll         = kConnect | kConnack | kPublish | kAcks | kSubscribe | kSuback |
		kUnsubscribe | kUnsuback | kDisconnect | kAuth | kWill
)

// propSpec is the wire type of a property and the kinds it may appear in
// (MQTT 5.0 table 2-4).
type propSpec struct {
	wire    wireType
	allowed uint32 // bit k set: allowed in kind k
}

var propSpecs = [PropSharedSubAvailable + 1]propSpec{
	PropPayloadFormat:        {wireByte, kPublish | kWill},
	PropMessageExpiry:        {wireUint32, kPublish | kWill},
	PropContentType:          {wireString, kPublish | kWill},
	PropResponseTopic:        {wireString, kPublish | kWill},
	PropCorrelationData:      {wireBinary, kPublish | kWill},
	PropSubscriptionID:       {wireVarint, kPublish | kSubscribe},
	PropSessionExpiry:        {wireUint32, kConnect | kConnack | kDisconnect},
	PropAssignedClientID:     {wireString, kConnack},
	PropServerKeepAlive:      {wireUint16, kConnack},
	PropAuthMethod:           {wireString, kConnect | kConnack | kAuth},
	PropAuthData:             {wireBinary, kConnect | kConnack | kAuth},
	PropRequestProblemInfo:   {wireByte, kConnect},
	PropWillDelay:            {wireUint32, kWill},
	PropRequestResponseInfo:  {wireByte, kConnect},
	PropResponseInfo:         {wireString, kConnack},
	PropServerReference:      {wireString, kConnack | kDisconnect},
	PropReasonString:         {wireString, kConnack | kAcks | kSuback | kUnsuback | kDisconnect | kAuth},
	PropReceiveMaximum:       {wireUint16, kConnect | kConnack},
	PropTopicAliasMaximum:    {wireUint16, kConnect | kConnack},
	PropTopicAlias:           {wireUint16, kPublish},
	PropMaximumQoS:           {wireByte, kConnack},
	PropRetainAvailable:      {wireByte, kConnack},
	PropUser:                 {wirePair, kAll},
	PropMaximumPacketSize:    {wireUint32, kConnect | kConnack},
	PropWildcardSubAvailable: {wireByte, kConnack},
	PropSubIDAvailable:       {wireByte, kConnack},
	PropSharedSubAvailable:   {wireByte, kConnack},
}

// AllowedIn reports whether property id may appear in a packet of type t
// (MQTT 5.0 table 2-4). Will properties are checked with AllowedInWill.
func (id PropertyID) AllowedIn(t PacketType) bool {
	return int(id) < len(propSpecs) && t < 16 && propSpecs[id].allowed&(1<<t) != 0
}

// AllowedInWill reports whether property id may appear in the will properties.
func (id PropertyID) AllowedInWill() bool {
	return int(id) < len(propSpecs) && propSpecs[id].allowed&kWill != 0
}

// Bits of the identifiers that have a presence bit; user properties and
// subscription identifiers are present when their slices are non-empty.
const (
	multiMask = 1<<PropUser | 1<<PropSubscriptionID
	// perDelivery are the PUBLISH properties that differ per subscriber;
	// they are encoded last so that PublishHeader can append them.
	perDelivery = 1<<PropTopicAlias | 1<<PropSubscriptionID
)

// allProps selects every property in Properties.appendBody.
const allProps = ^uint64(0)
