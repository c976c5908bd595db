package httpapi

import (
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// The last connection of an offline session (engine.LastConnection) in GET /sessions and in
// the offline entries of GET /clients: who was connected, from where, when, and why the
// connection ended. Left out when the node recorded none (a session loaded at start-up whose
// client has not come back yet).

// lastConnJSON is the last connection part of sessionJSON, under EMQX 4.x's client field
// names, with disconnected_at and disconnect_reason (EMQX's reason words, as the $SYS
// disconnected event).
type lastConnJSON struct {
	Username         string `json:"username"`
	ProtoName        string `json:"proto_name"`
	ProtoVer         int    `json:"proto_ver"`
	IPAddress        string `json:"ip_address"`
	Port             int    `json:"port"`
	Zone             string `json:"zone"`
	Listener         string `json:"listener"`
	Keepalive        int    `json:"keepalive"`
	ConnectedAt      string `json:"connected_at"`
	DisconnectedAt   string `json:"disconnected_at"`
	DisconnectReason string `json:"disconnect_reason"`
}

func lastConnOf(lc *engine.LastConnection) *lastConnJSON {
	if lc == nil {
		return nil
	}
	return &lastConnJSON{
		Username:         lc.Username,
		ProtoName:        protoName(lc.ProtoVersion),
		ProtoVer:         int(lc.ProtoVersion),
		IPAddress:        lc.Peer.Addr().Unmap().String(),
		Port:             int(lc.Peer.Port()),
		Zone:             lc.Zone,
		Listener:         lc.Listener,
		Keepalive:        int(lc.KeepAlive),
		ConnectedAt:      apiTime(lc.ConnectedAt),
		DisconnectedAt:   apiTime(lc.DisconnectedAt),
		DisconnectReason: engine.ReasonWords(lc.Reason),
	}
}

// offlineConnOf is the connection part of an offline client of GET /clients: its last
// connection's facts and traffic, nil when none was recorded.
func offlineConnOf(lc *engine.LastConnection) (*connJSON, *offlineJSON) {
	if lc == nil {
		return nil, nil
	}
	return &connJSON{
			Username:    lc.Username,
			ProtoName:   protoName(lc.ProtoVersion),
			ProtoVer:    int(lc.ProtoVersion),
			IPAddress:   lc.Peer.Addr().Unmap().String(),
			Port:        int(lc.Peer.Port()),
			ConnectedAt: apiTime(lc.ConnectedAt),
			Zone:        lc.Zone,
			Listener:    lc.Listener,
			Keepalive:   int(lc.KeepAlive),
			RecvOct:     lc.Counters.RecvOct,
			RecvPkt:     lc.Counters.RecvPkt,
			RecvMsg:     lc.Counters.RecvMsg,
			SendOct:     lc.Counters.SendOct,
			SendPkt:     lc.Counters.SendPkt,
			SendMsg:     lc.Counters.SendMsg,
		}, &offlineJSON{
			DisconnectedAt:   apiTime(lc.DisconnectedAt),
			DisconnectReason: engine.ReasonWords(lc.Reason),
		}
}

// offlineJSON is what an offline client of GET /clients has beyond a connected one's fields.
type offlineJSON struct {
	DisconnectedAt   string `json:"disconnected_at"`
	DisconnectReason string `json:"disconnect_reason"`
}

// matchLast applies the connection filters of f to an offline session's last connection
// (clean_start=true lists connected clients only, as before: an offline session is listed
// as clean_start false).
func (f *clientFilter) matchLast(lc *engine.LastConnection) bool {
	q := &f.q
	switch {
	case q.Username != "" && lc.Username != q.Username,
		q.LikeUsername != "" && !strings.Contains(lc.Username, q.LikeUsername),
		q.IP.IsValid() && lc.Peer.Addr().Unmap() != q.IP,
		f.zone != "" && lc.Zone != f.zone,
		f.protoName != "" && protoName(lc.ProtoVersion) != f.protoName,
		q.ProtoVersion != 0 && lc.ProtoVersion != q.ProtoVersion,
		q.CleanStart != nil && *q.CleanStart,
		!q.ConnectedAfter.IsZero() && lc.ConnectedAt.Before(q.ConnectedAfter),
		!q.ConnectedBefore.IsZero() && lc.ConnectedAt.After(q.ConnectedBefore):
		return false
	}
	return true
}
