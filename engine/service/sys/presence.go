package sys

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// presenceEvent is a connect or disconnect copied out of a hook, waiting for the service's
// goroutine.
type presenceEvent struct {
	ev        engine.ClientEvent
	reason    string // disconnected only
	at        int64  // unix nanoseconds when the hook ran
	connected bool
}

// onConnected and onDisconnected run on the event loops: they copy the event into the queue
// without waiting; when it is full the event is dropped and counted.
func (s *Service) onConnected(ev *engine.ClientEvent) {
	s.enqueue(presenceEvent{ev: *ev, at: time.Now().UnixNano(), connected: true})
}

func (s *Service) onDisconnected(ev *engine.ClientEvent, reason string) {
	s.enqueue(presenceEvent{ev: *ev, reason: reason, at: time.Now().UnixNano()})
}

func (s *Service) enqueue(e presenceEvent) {
	select {
	case s.presence <- e:
	default:
		s.presenceDropped.Add(1)
	}
}

// ConnectedPayload is the JSON of $SYS/brokers/<node>/clients/<id>/connected: EMQX 4.x's
// fields (times in unix milliseconds) and session_epoch, which grows on every connect and
// takeover of a client id (ClientEvent.ConnectedAt, in nanoseconds).
type ConnectedPayload struct {
	ClientID       string  `json:"clientid"`
	Username       *string `json:"username"` // null when the client gave none
	IPAddress      string  `json:"ipaddress"`
	SockPort       uint16  `json:"sockport"`
	ProtoName      string  `json:"proto_name"`
	ProtoVer       uint8   `json:"proto_ver"`
	KeepAlive      uint16  `json:"keepalive"`
	Connack        int     `json:"connack"`
	CleanStart     bool    `json:"clean_start"`
	ExpiryInterval uint32  `json:"expiry_interval"`
	ConnectedAt    int64   `json:"connected_at"`
	SessionEpoch   int64   `json:"session_epoch"`
	TS             int64   `json:"ts"`
}

// DisconnectedPayload is the JSON of .../clients/<id>/disconnected: EMQX 4.x's fields, the
// peer, and the session_epoch of the connection that ended (its connected event's).
type DisconnectedPayload struct {
	ClientID       string  `json:"clientid"`
	Username       *string `json:"username"`
	IPAddress      string  `json:"ipaddress"`
	Reason         string  `json:"reason"`
	ConnectedAt    int64   `json:"connected_at"`
	DisconnectedAt int64   `json:"disconnected_at"`
	SessionEpoch   int64   `json:"session_epoch"`
	TS             int64   `json:"ts"`
}

// publishPresence publishes one presence event. Runs on the service's goroutine.
func (s *Service) publishPresence(e *presenceEvent) {
	ev := &e.ev
	var user *string
	if ev.Username != "" {
		user = &ev.Username
	}
	now := time.Now().UnixMilli()
	var body any
	var topic string
	if e.connected {
		topic = "connected"
		body = &ConnectedPayload{
			ClientID: ev.ClientID, Username: user, IPAddress: ev.Peer.Addr().Unmap().String(),
			SockPort: s.listenerPort(ev.Listener), ProtoName: protoName(ev.Version), ProtoVer: uint8(ev.Version),
			KeepAlive: ev.KeepAlive, CleanStart: ev.CleanStart, ExpiryInterval: ev.SessionExpiry,
			ConnectedAt: ev.ConnectedAt / 1e6, SessionEpoch: ev.ConnectedAt, TS: now,
		}
	} else {
		topic = "disconnected"
		body = &DisconnectedPayload{
			ClientID: ev.ClientID, Username: user, IPAddress: ev.Peer.Addr().Unmap().String(),
			Reason: DisconnectReason(e.reason), ConnectedAt: ev.ConnectedAt / 1e6,
			DisconnectedAt: e.at / 1e6, SessionEpoch: ev.ConnectedAt, TS: now,
		}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		s.log.Error("BUG: presence payload does not encode", "error", err)
		return
	}
	// A client id with '+', '#' or a control character cannot be a topic level: the event
	// is then not published (Publish refuses the topic; logged at debug).
	s.publish(s.base+"clients/"+ev.ClientID+"/"+topic, payload, s.opts.PresenceQoS, false)
}

// listenerPort returns the port a listener is bound to, 0 if unknown.
func (s *Service) listenerPort(name string) uint16 {
	if s.mon.ports == nil {
		s.mon.ports = map[string]uint16{}
	}
	if p, ok := s.mon.ports[name]; ok {
		return p
	}
	ap, err := netip.ParseAddrPort(s.n.Addr(name))
	if err != nil {
		return 0
	}
	s.mon.ports[name] = ap.Port()
	return ap.Port()
}

// protoName is the protocol name a client of version v sends in its CONNECT.
func protoName(v codec.Version) string {
	if v == codec.V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

// DisconnectReason turns the engine's disconnect reason into EMQX's reason words
// (engine.ReasonWords): "normal" for a DISCONNECT from the client, "takeovered",
// "keepalive_timeout", "tcp_closed" when the peer closed the socket, otherwise the reason in
// lower case with '_' between words.
func DisconnectReason(r string) string { return engine.ReasonWords(r) }
