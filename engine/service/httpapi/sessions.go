package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/emqgo/emqgo/engine"
)

// Sessions, topics and the ACL cache: EMQX 3.x's /sessions (and its node forms), /topics (the
// filters of the routing table, as `emqx_ctl topics list`), and EMQX 4.x's
// /clients/{clientid}/acl_cache (also under /acl-cache/{clientid}).

// sessionRoutes adds these endpoints to api.
func (s *Server) sessionRoutes(api *http.ServeMux) {
	for _, v := range []string{"/api/v3", "/api/v4"} {
		for _, n := range []string{"", "/nodes/{node}"} {
			api.HandleFunc("GET "+v+n+"/sessions", s.sessionList)
			api.HandleFunc("GET "+v+n+"/sessions/{clientid}", s.sessionLookup)
			api.HandleFunc("GET "+v+n+"/topics", s.topicList)
			api.HandleFunc("GET "+v+n+"/topics/{topic}", s.topicLookup)
		}
	}
	// {sub} rather than a literal acl_cache: "/clients/{clientid}/acl_cache" and
	// "/clients/username/{username}" would both match "/clients/username/acl_cache".
	api.HandleFunc("GET /api/v4/clients/{clientid}/{sub}", s.aclCacheList)
	api.HandleFunc("DELETE /api/v4/clients/{clientid}/{sub}", s.aclCacheClean)
	api.HandleFunc("GET /api/v4/acl-cache/{clientid}", s.aclCacheList)
	api.HandleFunc("DELETE /api/v4/acl-cache/{clientid}", s.aclCacheClean)
}

// sessionJSON is one session, EMQX 3.x's fields for which the broker has a fact, plus
// connected.
type sessionJSON struct {
	Node               string `json:"node"`
	ClientID           string `json:"client_id"`
	Connected          bool   `json:"connected"`
	CleanStart         bool   `json:"clean_start"`
	Binding            string `json:"binding"`
	ExpiryInterval     uint32 `json:"expiry_interval"`
	CreatedAt          string `json:"created_at"`
	SubscriptionsCount int    `json:"subscriptions_count"`
	MaxInflight        int    `json:"max_inflight"`
	InflightLen        int    `json:"inflight_len"`
	MqueueLen          int    `json:"mqueue_len"`
	AwaitingRelLen     int    `json:"awaiting_rel_len"`
	*lastConnJSON             // offline sessions: the last connection (lastconn.go)
}

func (s *Server) sessionOf(si *engine.SessionInfo) sessionJSON {
	return sessionJSON{
		Node:               s.node.Name(),
		ClientID:           si.ClientID,
		Connected:          si.Connected,
		CleanStart:         !si.Persistent(),
		Binding:            "local",
		ExpiryInterval:     si.ExpiryInterval,
		CreatedAt:          apiTime(si.CreatedAt),
		SubscriptionsCount: si.Subscriptions,
		MaxInflight:        si.MaxInflight,
		InflightLen:        si.Inflight,
		MqueueLen:          si.QueueLen,
		AwaitingRelLen:     si.AwaitingRel,
		lastConnJSON:       lastConnOf(si.Last),
	}
}

// GET /api/v4/sessions (and /nodes/{node}/sessions): a page of sessions, online and offline,
// ordered by client id. Beyond EMQX: connected=true|false and persistent=true|false filter.
func (s *Server) sessionList(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	v, err := queryOf(r, append([]string{"connected", "persistent"}, pagingParams...)...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	var q engine.SessionQuery
	if q.Connected, err = boolParam(v, "connected"); err != nil {
		writeParamError(w, err)
		return
	}
	if q.Persistent, err = boolParam(v, "persistent"); err != nil {
		writeParamError(w, err)
		return
	}
	all := s.node.Sessions(q).Sessions
	out := make([]sessionJSON, 0, len(all))
	for i := range all {
		out = append(out, s.sessionOf(&all[i]))
	}
	writePage(w, pageOf(out, &m), m)
}

// GET /api/v4/sessions/{clientid} (and the node form): {"code":0,"data":[session]}, an empty
// list when there is none (as EMQX 3.x).
func (s *Server) sessionLookup(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	out := []sessionJSON{}
	if si, err := s.node.Session(r.PathValue("clientid")); err == nil {
		out = append(out, s.sessionOf(&si))
	}
	writeData(w, out)
}

// GET /api/v4/topics (and the node form): a page of the subscribed filters, each with the
// node that routes it, ordered by filter.
func (s *Server) topicList(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	v, err := queryOf(r, pagingParams...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	topics := s.node.Topics()
	out := make([]routeJSON, 0, len(topics))
	for _, t := range topics {
		out = append(out, routeJSON{Topic: t, Node: s.node.Name()})
	}
	writePage(w, pageOf(out, &m), m)
}

// GET /api/v4/topics/{topic}: the filter, URL-encoded in the path, as a list of one, or an
// empty list when nobody subscribes to it.
func (s *Server) topicLookup(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	topic := r.PathValue("topic")
	out := []routeJSON{}
	for _, t := range s.node.Topics() {
		if t == topic {
			out = append(out, routeJSON{Topic: t, Node: s.node.Name()})
		}
	}
	writeData(w, out)
}

// aclCacheJSON is one cached decision, as EMQX 4.x's list_acl_cache: updated_time in
// milliseconds since the epoch.
type aclCacheJSON struct {
	Access      string `json:"access"`
	Topic       string `json:"topic"`
	Result      string `json:"result"`
	UpdatedTime int64  `json:"updated_time"`
}

// aclCachePath checks the {sub} of /clients/{clientid}/{sub}; the /acl-cache form has none.
func aclCachePath(w http.ResponseWriter, r *http.Request) bool {
	if sub := r.PathValue("sub"); sub != "" && sub != "acl_cache" {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.Path)
		return false
	}
	return true
}

// GET /api/v4/clients/{clientid}/acl_cache: the connected client's cached ACL decisions;
// 404 (code 112) when it is not connected.
func (s *Server) aclCacheList(w http.ResponseWriter, r *http.Request) {
	if !aclCachePath(w, r) {
		return
	}
	id := r.PathValue("clientid")
	es, err := s.node.ACLCache(r.Context(), id)
	if err != nil {
		aclCacheError(w, id, err)
		return
	}
	out := make([]aclCacheJSON, 0, len(es))
	for _, e := range es {
		a := aclCacheJSON{Access: "subscribe", Topic: e.Topic, Result: "deny", UpdatedTime: e.Updated.UnixMilli()}
		if e.Publish {
			a.Access = "publish"
		}
		if e.Allow {
			a.Result = "allow"
		}
		out = append(out, a)
	}
	writeData(w, out)
}

// DELETE /api/v4/clients/{clientid}/acl_cache: empties the connected client's ACL cache
// ({"code":0}); 404 (code 112) when it is not connected.
func (s *Server) aclCacheClean(w http.ResponseWriter, r *http.Request) {
	if !aclCachePath(w, r) {
		return
	}
	id := r.PathValue("clientid")
	if err := s.node.CleanACLCache(r.Context(), id); err != nil {
		aclCacheError(w, id, err)
		return
	}
	writeOK(w)
}

func aclCacheError(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, engine.ErrNoClient) {
		writeError(w, http.StatusNotFound, codeNotOnline, fmt.Sprintf("no connected client with client id %q", id))
		return
	}
	writeEngineError(w, err)
}
