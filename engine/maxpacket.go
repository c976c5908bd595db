package engine

import (
	"strconv"

	"github.com/emqgo/emqgo/codec"
)

// The broker never sends a packet larger than the client's MQTT 5 Maximum Packet Size
// [MQTT-3.1.2-24]. A PUBLISH that does not fit is dropped (deliver.go). The other packets
// first lose the properties they can do without; a CONNACK that still does not fit is not
// sent and the connection closes [MQTT-3.1.2-24], and a SUBSCRIBE or UNSUBSCRIBE whose
// acknowledgement could not fit is refused before it takes effect. Acknowledgements and
// DISCONNECT carry at most a reason string besides their fixed part (sendAck, closeWith):
// without it they are never larger than the smallest CONNACK, which the client accepted.

// fits reports whether a packet of size bytes may be sent to the client.
func (c *conn) fits(size int) bool {
	return c.clientMaxPacket == 0 || size <= int(c.clientMaxPacket)
}

// connackOptional lists the CONNACK properties the broker leaves out, in this order, while
// the CONNACK exceeds the client's Maximum Packet Size: the diagnostics first, then the
// capabilities whose absence is safest for the client (without Topic Alias Maximum it uses no
// alias; without the others it may try what the broker then refuses, with a reason code).
// Assigned Client Identifier and Server Keep Alive are never left out: the client needs them.
var connackOptional = [...]codec.PropertyID{
	codec.PropReasonString,
	codec.PropUser,
	codec.PropResponseInfo,
	codec.PropTopicAliasMaximum,
	codec.PropSharedSubAvailable,
	codec.PropWildcardSubAvailable,
	codec.PropSubIDAvailable,
	codec.PropRetainAvailable,
	codec.PropMaximumQoS,
	codec.PropReceiveMaximum,
	codec.PropMaximumPacketSize,
}

// appendConnackFit appends ack, leaving out optional properties (connackOptional) until it
// fits the client's Maximum Packet Size. It reports false, with dst unchanged, when even the
// smallest CONNACK does not fit. ack's properties are changed.
func (c *conn) appendConnackFit(dst []byte, ack *codec.Connack, v codec.Version) ([]byte, bool) {
	start := len(dst)
	b := codec.AppendConnack(dst, ack, v)
	for _, id := range connackOptional {
		if c.fits(len(b) - start) {
			return b, true
		}
		if ack.Props.Has(id) {
			ack.Props.Clear(id)
			b = codec.AppendConnack(b[:start], ack, v)
		}
	}
	if c.fits(len(b) - start) {
		return b, true
	}
	return b[:start], false
}

// minConnackSize is the size of the smallest successful MQTT 5 CONNACK to this client: no
// optional property, only the assigned client identifier (when assigned) and the zone's
// Server Keep Alive.
func (c *conn) minConnackSize(assigned string) int {
	var pr codec.Properties
	if assigned != "" {
		pr.SetAssignedClientID([]byte(assigned))
	}
	if ka := c.lis.Zone.ServerKeepalive; ka > 0 {
		pr.SetServerKeepAlive(ka)
	}
	return packetSize(2 + propsSize(&pr))
}

// ackCodesSize is the size of a SUBACK or UNSUBACK without properties carrying n reason codes
// in the connection's protocol version.
func (c *conn) ackCodesSize(n int) int {
	body := 2 + n
	if c.version == codec.V5 {
		body++ // property length 0
	}
	return packetSize(body)
}

// refuseAckTooLarge closes the connection because the acknowledgement of a SUBSCRIBE or
// UNSUBSCRIBE (kind) with n filters would exceed the client's Maximum Packet Size: the packet
// is refused before it takes effect, with DISCONNECT 0x95 (which fits: it is smaller than the
// CONNACK the client accepted).
func (c *conn) refuseAckTooLarge(kind string, n int) error {
	return &codec.Error{Code: codec.PacketTooLarge, Reason: kind + " of " + strconv.Itoa(n) + " reason codes (" +
		strconv.Itoa(c.ackCodesSize(n)) + " bytes) would exceed the client's Maximum Packet Size (" +
		strconv.Itoa(int(c.clientMaxPacket)) + ") [MQTT-3.1.2-24]"}
}

// propsSize is the encoded size of properties p with their length prefix.
func propsSize(p *codec.Properties) int {
	n := p.Size()
	return codec.VarintSize(uint32(n)) + n
}

// packetSize is the size of a packet whose remaining length is body.
func packetSize(body int) int { return 1 + codec.VarintSize(uint32(body)) + body }
