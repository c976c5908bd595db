package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// clientJSON is one client of GET /api/v4/clients, EMQX 4.x's shape. A connected client has
// every field; a persistent session whose client is offline (EMQX's conn_state disconnected)
// has only the session's: the connection part is left out.
type clientJSON struct {
	Node             string `json:"node"`
	ClientID         string `json:"clientid"`
	Connected        bool   `json:"connected"`
	CleanStart       bool   `json:"clean_start"`
	ExpiryInterval   uint32 `json:"expiry_interval"`
	CreatedAt        string `json:"created_at"`
	SubscriptionsCnt int    `json:"subscriptions_cnt"`
	Inflight         int    `json:"inflight"`
	MaxInflight      int    `json:"max_inflight"`
	MqueueLen        int    `json:"mqueue_len"`
	AwaitingRel      int    `json:"awaiting_rel"`
	*connJSON
	*offlineJSON // an offline client's last connection (lastconn.go)
}

// connJSON is the connection part of clientJSON.
type connJSON struct {
	Username    string `json:"username"`
	ProtoName   string `json:"proto_name"`
	ProtoVer    int    `json:"proto_ver"`
	IPAddress   string `json:"ip_address"`
	Port        int    `json:"port"`
	IsBridge    bool   `json:"is_bridge"`
	ConnectedAt string `json:"connected_at"`
	Zone        string `json:"zone"`
	Listener    string `json:"listener"`
	Keepalive   int    `json:"keepalive"`
	// Traffic of the connection (engine.ConnCounters).
	RecvOct uint64 `json:"recv_oct"`
	RecvPkt uint64 `json:"recv_pkt"`
	RecvMsg uint64 `json:"recv_msg"`
	SendOct uint64 `json:"send_oct"`
	SendPkt uint64 `json:"send_pkt"`
	SendMsg uint64 `json:"send_msg"`
}

func protoName(v codec.Version) string {
	if v == codec.V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

func (s *Server) clientOf(c *engine.ClientSnapshot) clientJSON {
	return clientJSON{
		Node:             s.node.Name(),
		ClientID:         c.ClientID,
		Connected:        true,
		CleanStart:       c.CleanStart,
		ExpiryInterval:   c.ExpiryInterval,
		CreatedAt:        apiTime(c.CreatedAt),
		SubscriptionsCnt: c.Subscriptions,
		Inflight:         c.Inflight,
		MaxInflight:      c.MaxInflight,
		MqueueLen:        c.QueueLen,
		AwaitingRel:      c.AwaitingRel,
		connJSON: &connJSON{
			Username:    c.Username,
			ProtoName:   protoName(c.ProtoVersion),
			ProtoVer:    int(c.ProtoVersion),
			IPAddress:   c.Peer.Addr().Unmap().String(),
			Port:        int(c.Peer.Port()),
			ConnectedAt: apiTime(c.ConnectedAt),
			Zone:        c.Zone,
			Listener:    c.Listener,
			Keepalive:   int(c.KeepAlive),
			RecvOct:     c.Counters.RecvOct,
			RecvPkt:     c.Counters.RecvPkt,
			RecvMsg:     c.Counters.RecvMsg,
			SendOct:     c.Counters.SendOct,
			SendPkt:     c.Counters.SendPkt,
			SendMsg:     c.Counters.SendMsg,
		},
	}
}

func (s *Server) offlineClientOf(si *engine.SessionInfo) clientJSON {
	conn, off := offlineConnOf(si.Last)
	return clientJSON{
		Node:             s.node.Name(),
		ClientID:         si.ClientID,
		CleanStart:       false, // an offline session is a persistent one
		ExpiryInterval:   si.ExpiryInterval,
		CreatedAt:        apiTime(si.CreatedAt),
		SubscriptionsCnt: si.Subscriptions,
		Inflight:         si.Inflight,
		MaxInflight:      si.MaxInflight,
		MqueueLen:        si.QueueLen,
		AwaitingRel:      si.AwaitingRel,
		connJSON:         conn,
		offlineJSON:      off,
	}
}

// clientParams are the query parameters of GET /clients (EMQX 4.x's names; like_clientid and
// like_username are accepted without the leading underscore too).
var clientParams = append([]string{
	"clientid", "username", "zone", "ip_address", "conn_state", "clean_start", "proto_name", "proto_ver",
	"_like_clientid", "_like_username", "like_clientid", "like_username",
	"_gte_created_at", "_lte_created_at", "_gte_connected_at", "_lte_connected_at",
}, pagingParams...)

// clientFilter is a parsed GET /clients query: the engine's query plus what it does not
// filter on.
type clientFilter struct {
	q                           engine.ClientQuery
	zone, protoName             string
	connected, offline          bool // which states to list (conn_state)
	createdAfter, createdBefore time.Time
	connOnly                    bool // a filter only a connected client can match
}

func parseClientFilter(v url.Values) (*clientFilter, error) {
	f := &clientFilter{connected: true, offline: true}
	q := &f.q
	q.ClientID = v.Get("clientid")
	q.Username = v.Get("username")
	f.zone = v.Get("zone")
	q.LikeClientID = cmpOr(v.Get("_like_clientid"), v.Get("like_clientid"))
	q.LikeUsername = cmpOr(v.Get("_like_username"), v.Get("like_username"))
	if ip := v.Get("ip_address"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, badParam(codeParamType, "query parameter \"ip_address\" is not an IP address: %q", ip)
		}
		q.IP = a.Unmap()
	}
	switch st := v.Get("conn_state"); st {
	case "":
	case "connected":
		f.offline = false
	case "disconnected":
		f.connected = false
	case "idle": // a connection that has not sent CONNECT is not listed as a client
		f.connected, f.offline = false, false
	default:
		return nil, badParam(codeParamType, "query parameter \"conn_state\" must be connected, idle or disconnected, got %q", st)
	}
	var err error
	if q.CleanStart, err = boolParam(v, "clean_start"); err != nil {
		return nil, err
	}
	if name := v.Get("proto_name"); name != "" {
		if name != "MQTT" && name != "MQIsdp" {
			return nil, badParam(codeParamType, "query parameter \"proto_name\" must be MQTT or MQIsdp, got %q", name)
		}
		f.protoName = name
	}
	if pv := v.Get("proto_ver"); pv != "" {
		n, err := strconv.Atoi(pv)
		if err != nil || !codec.Version(n).Valid() {
			return nil, badParam(codeParamType, "query parameter \"proto_ver\" must be 3, 4 or 5, got %q", pv)
		}
		q.ProtoVersion = codec.Version(n)
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{
		{"_gte_created_at", &f.createdAfter}, {"_lte_created_at", &f.createdBefore},
		{"_gte_connected_at", &q.ConnectedAfter}, {"_lte_connected_at", &q.ConnectedBefore},
	} {
		if *b.t, err = timeParam(v, b.name); err != nil {
			return nil, err
		}
	}
	f.connOnly = q.Username != "" || q.LikeUsername != "" || q.IP.IsValid() || f.zone != "" || f.protoName != "" ||
		q.ProtoVersion != 0 || q.CleanStart != nil && *q.CleanStart || !q.ConnectedAfter.IsZero() || !q.ConnectedBefore.IsZero()
	return f, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// created reports whether t is within the created_at bounds.
func (f *clientFilter) created(t time.Time) bool {
	return (f.createdAfter.IsZero() || !t.Before(f.createdAfter)) && (f.createdBefore.IsZero() || !t.After(f.createdBefore))
}

// matchSnapshot applies what the engine's query does not.
func (f *clientFilter) matchSnapshot(c *engine.ClientSnapshot) bool {
	return (f.zone == "" || c.Zone == f.zone) && (f.protoName == "" || protoName(c.ProtoVersion) == f.protoName) && f.created(c.CreatedAt)
}

// matchOffline applies f to an offline session: the connection filters to its last
// connection, and when none was recorded, none of them matches.
func (f *clientFilter) matchOffline(si *engine.SessionInfo) bool {
	if !(f.q.ClientID == "" || si.ClientID == f.q.ClientID) || !strings.Contains(si.ClientID, f.q.LikeClientID) || !f.created(si.CreatedAt) {
		return false
	}
	if si.Last != nil {
		return f.matchLast(si.Last)
	}
	return !f.connOnly
}

// listClients returns every client matching f: connected ones by connection time, then
// offline persistent sessions by client id.
func (s *Server) listClients(r *http.Request, f *clientFilter) ([]clientJSON, error) {
	out := []clientJSON{}
	if f.connected {
		page, err := s.node.Clients(r.Context(), f.q)
		if err != nil {
			return nil, err
		}
		for i := range page.Clients {
			if c := &page.Clients[i]; f.matchSnapshot(c) {
				out = append(out, s.clientOf(c))
			}
		}
	}
	if f.offline {
		off := false
		sessions := s.node.Sessions(engine.SessionQuery{Connected: &off})
		for i := range sessions.Sessions {
			if si := &sessions.Sessions[i]; si.Persistent() && f.matchOffline(si) {
				out = append(out, s.offlineClientOf(si))
			}
		}
	}
	return out, nil
}

// GET /api/v4/clients and /api/v4/nodes/{node}/clients: a page of clients.
func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	v, err := queryOf(r, clientParams...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	f, err := parseClientFilter(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	all, err := s.listClients(r, f)
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writePage(w, pageOf(all, &m), m)
}

// GET /api/v4/clients/{clientid} (and the node form): {"code":0,"data":[client]} as EMQX 4.x
// (a list of one), a connected client or an offline persistent session; 404 (code 112) when
// neither exists.
func (s *Server) client(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	id := r.PathValue("clientid")
	c, err := s.node.Client(r.Context(), id)
	if err == nil {
		writeData(w, []clientJSON{s.clientOf(&c)})
		return
	}
	if !errors.Is(err, engine.ErrNoClient) {
		writeEngineError(w, err)
		return
	}
	if si, err := s.node.Session(id); err == nil && !si.Connected && si.Persistent() {
		writeData(w, []clientJSON{s.offlineClientOf(&si)})
		return
	}
	writeError(w, http.StatusNotFound, codeNotOnline, fmt.Sprintf("no client with client id %q", id))
}

// GET /api/v4/clients/username/{username} (and the node form): every connected client with
// that username, {"code":0,"data":[...]} (an empty list when none).
func (s *Server) clientsByUsername(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	page, err := s.node.Clients(r.Context(), engine.ClientQuery{Username: r.PathValue("username")})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	out := make([]clientJSON, 0, len(page.Clients))
	for i := range page.Clients {
		out = append(out, s.clientOf(&page.Clients[i]))
	}
	writeData(w, out)
}

// DELETE /api/v4/clients/{clientid} (and the node form): kicks the connected client
// ({"code":0}); 404 (code 112) when it is not connected.
func (s *Server) kick(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	id := r.PathValue("clientid")
	if err := s.node.Kick(r.Context(), id); err != nil {
		if errors.Is(err, engine.ErrNoClient) {
			writeError(w, http.StatusNotFound, codeNotOnline, fmt.Sprintf("no connected client with client id %q", id))
			return
		}
		writeEngineError(w, err)
		return
	}
	writeOK(w)
}

// writeOK answers {"code":0}.
func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, struct {
		Code int `json:"code"`
	}{codeOK})
}

// writeEngineError answers a failure of the node itself (a loop that did not answer, the
// node stopping): 503 when stopping, else 500, code 102.
func writeEngineError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if strings.Contains(err.Error(), "stopping") {
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, codeUnknown, err.Error())
}
