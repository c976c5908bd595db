package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// subscriptionJSON is one subscription, EMQX 4.x's shape; topic is the filter as stored (under
// the mountpoint, with a $share/<group>/ or $queue/ prefix).
type subscriptionJSON struct {
	Node     string `json:"node"`
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	QoS      uint8  `json:"qos"`
}

// subscriptionParams are the filters of GET /subscriptions (EMQX 4.x's).
var subscriptionParams = append([]string{"clientid", "topic", "qos", "share", "_match_topic"}, pagingParams...)

// GET /api/v4/subscriptions and /api/v4/nodes/{node}/subscriptions: a page of every session's
// subscriptions, ordered by client id then filter, filtered by clientid, topic (the filter,
// exactly), qos, share (the group of a shared subscription) and _match_topic (a topic name the
// filter matches).
func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	v, err := queryOf(r, subscriptionParams...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	qos := -1
	if q := v.Get("qos"); q != "" {
		if qos, err = strconv.Atoi(q); err != nil || qos < 0 || qos > 2 {
			writeParamError(w, badParam(codeParamType, "query parameter \"qos\" must be 0, 1 or 2, got %q", q))
			return
		}
	}
	match := v.Get("_match_topic")
	if match != "" {
		if err := codec.ValidTopicName([]byte(match)); err != nil {
			writeParamError(w, badParam(codeBadTopic, "query parameter \"_match_topic\": bad topic name %q: %v", match, err))
			return
		}
	}
	clientID, topic, share := v.Get("clientid"), v.Get("topic"), v.Get("share")
	_, all := s.node.Subscriptions(0, 0)
	out := []subscriptionJSON{}
	for _, sub := range all {
		group, plain := splitShare(sub.Filter)
		if clientID != "" && sub.ClientID != clientID || topic != "" && sub.Filter != topic ||
			qos >= 0 && int(sub.Options.QoS) != qos || share != "" && group != share ||
			match != "" && !topicMatches(plain, match) {
			continue
		}
		out = append(out, s.subscriptionOf(sub))
	}
	writePage(w, pageOf(out, &m), m)
}

func (s *Server) subscriptionOf(sub engine.SubscriptionInfo) subscriptionJSON {
	return subscriptionJSON{Node: s.node.Name(), ClientID: sub.ClientID, Topic: sub.Filter, QoS: sub.Options.QoS}
}

// GET /api/v4/subscriptions/{clientid} (and the node form): {"code":0,"data":[...]}, the
// subscriptions of one session in the order they were made; 404 (code 112) without a session.
func (s *Server) clientSubscriptions(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("node") != "" && !s.thisNode(w, r) {
		return
	}
	id := r.PathValue("clientid")
	subs, err := s.node.ClientSubscriptions(id)
	if errors.Is(err, engine.ErrNoSession) {
		writeError(w, http.StatusNotFound, codeNotOnline, fmt.Sprintf("no session with client id %q", id))
		return
	}
	out := make([]subscriptionJSON, 0, len(subs))
	for _, sub := range subs {
		out = append(out, s.subscriptionOf(sub))
	}
	writeData(w, out)
}

// routeJSON is one route, EMQX 4.x's shape.
type routeJSON struct {
	Topic string `json:"topic"`
	Node  string `json:"node"`
}

// GET /api/v4/routes (routeList): a page of the routing table, ordered by filter.
func (s *Server) routeList(w http.ResponseWriter, r *http.Request) {
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
	routes := s.node.Routes()
	out := make([]routeJSON, 0, len(routes))
	for _, rt := range routes {
		out = append(out, routeJSON{Topic: rt.Filter, Node: rt.Node})
	}
	writePage(w, pageOf(out, &m), m)
}

// GET /api/v4/routes/{topic}: the route of one filter, URL-encoded in the path ("a%2F%23"
// for a/#): {"code":0,"data":[route]}, or an empty list when the filter has no route.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	out := []routeJSON{}
	for _, rt := range s.node.Routes() {
		if rt.Filter == topic {
			out = append(out, routeJSON{Topic: rt.Filter, Node: rt.Node})
		}
	}
	writeData(w, out)
}

// splitShare returns the group of a $share/<group>/f or $queue/f filter ("$queue" for the
// latter, as EMQX names it) and the plain filter.
func splitShare(filter string) (group, plain string) {
	if g, f, ok := codec.SplitShared([]byte(filter)); ok {
		return string(g), string(f)
	}
	if f, ok := strings.CutPrefix(filter, "$queue/"); ok {
		return "$queue", f
	}
	return "", filter
}

// topicMatches reports whether the topic name topic matches the filter by MQTT's rules: '+'
// is one level, '#' the rest (the parent level included), and a leading wildcard does not
// match a '$' topic [MQTT-4.7.2-1].
func topicMatches(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			return fmore == tmore || !tmore && frest == "#"
		}
		filter, topic = frest, trest
	}
}
