package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/trie"
)

// subscribeFields are the members of a /mqtt/subscribe or /mqtt/unsubscribe body (EMQX 4.x:
// clientid, topic or topics (comma-separated), qos; 3.x's client_id is accepted too).
var (
	subscribeFields   = []string{"clientid", "client_id", "topic", "topics", "qos"}
	unsubscribeFields = []string{"clientid", "client_id", "topic", "topics"}
)

// subRequest is a checked subscribe or unsubscribe request. A request whose members have the
// right types but say something impossible (no client id, no topic, a bad filter) is still
// a subRequest, with the failure in err: a batch reports it for that item only.
type subRequest struct {
	clientID string
	topic    string // as given, for batch results: topic, else topics
	topics   []string
	qos      uint8
	err      *paramError
}

// parseSubRequest checks one subscribe (qos true) or unsubscribe body. It returns an error
// for a malformed body (unknown member, wrong type): the whole request is refused.
func parseSubRequest(obj map[string]json.RawMessage, qos bool) (*subRequest, error) {
	known := unsubscribeFields
	if qos {
		known = subscribeFields
	}
	for name := range obj {
		if !slices.Contains(known, name) {
			return nil, badParam(codeParamType, "unknown field %q (known: %s)", name, strings.Join(known, ", "))
		}
	}
	req := &subRequest{}
	id4, has4, err := fieldString(obj, "clientid")
	if err != nil {
		return nil, err
	}
	id3, has3, err := fieldString(obj, "client_id")
	if err != nil {
		return nil, err
	}
	if has3 && has4 && id3 != id4 {
		return nil, badParam(codeParamType, "fields \"client_id\" and \"clientid\" differ; give one")
	}
	req.clientID = cmpOr(id4, id3)
	topic, _, err := fieldString(obj, "topic")
	if err != nil {
		return nil, err
	}
	topics, _, err := fieldString(obj, "topics")
	if err != nil {
		return nil, err
	}
	if qos {
		q, _, err := fieldInt(obj, "qos", 0, 2)
		if err != nil {
			return nil, err
		}
		req.qos = uint8(q)
	}
	req.topic = cmpOr(topic, topics)
	if topic != "" {
		req.topics = append(req.topics, topic)
	}
	for t := range strings.SplitSeq(topics, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(req.topics, t) {
			req.topics = append(req.topics, t)
		}
	}
	switch {
	case req.clientID == "":
		req.err = badParam(codeMissingParam, "missing field \"clientid\"")
	case len(req.topics) == 0:
		req.err = badParam(codeMissingParam, "missing field \"topic\" or \"topics\"")
	}
	for _, t := range req.topics {
		if req.err == nil && !trie.ValidFilter(t) {
			req.err = badParam(codeBadTopic, "bad topic filter %q", t)
		}
	}
	return req, nil
}

// apply subscribes or unsubscribes req's client. A client id without a session is a
// *paramError with code 112; a failure of the node is any other error.
func (s *Server) apply(r *http.Request, req *subRequest, subscribe bool) error {
	if req.err != nil {
		return req.err
	}
	for _, t := range req.topics {
		var err error
		if subscribe {
			err = s.node.SubscribeClient(r.Context(), req.clientID, t, req.qos)
		} else {
			_, err = s.node.UnsubscribeClient(r.Context(), req.clientID, t)
		}
		switch {
		case errors.Is(err, engine.ErrNoSession):
			return badParam(codeNotOnline, "no session with client id %q", req.clientID)
		case err != nil && strings.Contains(err.Error(), "max_subscriptions"):
			return badParam(codeParamType, "%v", err)
		case err != nil && strings.Contains(err.Error(), "refused"):
			return badParam(codeBadTopic, "%v", err)
		case err != nil:
			return err
		}
	}
	return nil
}

// POST /api/v4/mqtt/subscribe and /mqtt/unsubscribe: {"clientid":"c","topic":"a/#","qos":1}
// subscribes client c's session (online or offline) as an administrator (no ACL check);
// {"code":0}. A malformed body or a bad topic: 400 and nothing done; no such session: 404
// with code 112.
func (s *Server) mqttSubscribe(w http.ResponseWriter, r *http.Request) {
	s.subscribeOne(w, r, true)
}

func (s *Server) mqttUnsubscribe(w http.ResponseWriter, r *http.Request) {
	s.subscribeOne(w, r, false)
}

func (s *Server) subscribeOne(w http.ResponseWriter, r *http.Request, subscribe bool) {
	obj, err := readObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	req, err := parseSubRequest(obj, subscribe)
	if err != nil {
		writeParamError(w, err)
		return
	}
	if err := s.apply(r, req, subscribe); err != nil {
		var pe *paramError
		switch {
		case errors.As(err, &pe) && pe.code == codeNotOnline:
			writeError(w, http.StatusNotFound, pe.code, pe.msg)
		case errors.As(err, &pe):
			writeParamError(w, err)
		default:
			writeEngineError(w, err)
		}
		return
	}
	writeOK(w)
}

// readArray reads a request body holding one JSON array of objects (a batch).
func readArray(w http.ResponseWriter, r *http.Request, limit int64) ([]map[string]json.RawMessage, error) {
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	if body[0] != '[' {
		return nil, badParam(codeNotJSON, "request body is not a JSON array (a batch is an array of requests)")
	}
	var raw []json.RawMessage
	if err := decodeOne(body, "array", &raw); err != nil {
		return nil, err
	}
	items := make([]map[string]json.RawMessage, len(raw))
	for i, it := range raw {
		if it[0] != '{' || json.Unmarshal(it, &items[i]) != nil {
			return nil, badParam(codeNotJSON, "item %d of the batch is %s, want a JSON object", i, jsonType(it))
		}
	}
	return items, nil
}

// itemError names the batch item of a malformed member.
func itemError(i int, err error) error {
	var pe *paramError
	if errors.As(err, &pe) {
		return badParam(pe.code, "item %d: %s", i, pe.msg)
	}
	return fmt.Errorf("item %d: %w", i, err)
}

// batchResult is one item's result of a batch, as EMQX 4.x reports it.
type batchResult struct {
	ClientID *string `json:"clientid,omitempty"`
	Topic    string  `json:"topic"`
	Code     int     `json:"code"`
	Message  string  `json:"message,omitempty"`
}

func resultOf(err error) (int, string) {
	var pe *paramError
	switch {
	case err == nil:
		return codeOK, ""
	case errors.As(err, &pe):
		return pe.code, pe.msg
	}
	return codeUnknown, err.Error()
}

// POST /api/v4/mqtt/subscribe_batch and /mqtt/unsubscribe_batch: an array of subscribe
// (unsubscribe) bodies, done in order; {"code":0,"data":[{"clientid","topic","code"}...]}
// with one result per item (code 0, or 107 missing field, 115 bad topic, 112 no session).
// A malformed batch (not an array, an item not an object, an unknown member, a wrong type)
// is refused whole with a 400 naming the item: nothing is done.
func (s *Server) mqttSubscribeBatch(w http.ResponseWriter, r *http.Request) {
	s.subscribeBatch(w, r, true)
}

func (s *Server) mqttUnsubscribeBatch(w http.ResponseWriter, r *http.Request) {
	s.subscribeBatch(w, r, false)
}

func (s *Server) subscribeBatch(w http.ResponseWriter, r *http.Request, subscribe bool) {
	items, err := readArray(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	reqs := make([]*subRequest, len(items))
	for i, obj := range items {
		if reqs[i], err = parseSubRequest(obj, subscribe); err != nil {
			writeParamError(w, itemError(i, err))
			return
		}
	}
	out := make([]batchResult, len(reqs))
	for i, req := range reqs {
		code, msg := resultOf(s.apply(r, req, subscribe))
		out[i] = batchResult{ClientID: &req.clientID, Topic: req.topic, Code: code, Message: msg}
	}
	writeData(w, out)
}

// POST /api/v4/mqtt/publish_batch: an array of publish bodies (as /mqtt/publish), published
// in order; {"code":0,"data":[{"topic","code"}...]} with one result per item (code 0, or 107
// no topic, 115 bad topic). A malformed batch is refused whole with a 400 naming the item.
func (s *Server) publishBatch(w http.ResponseWriter, r *http.Request) {
	items, err := readArray(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	type item struct {
		req   *publishRequest
		topic string
		err   error
	}
	batch := make([]item, len(items))
	for i, obj := range items {
		it := &batch[i]
		t, _, _ := fieldString(obj, "topic")
		ts, _, _ := fieldString(obj, "topics")
		it.topic = cmpOr(t, ts)
		it.req, it.err = parsePublish(obj)
		var pe *paramError
		if it.err != nil && (!errors.As(it.err, &pe) || pe.code != codeBadTopic && pe.code != codeMissingParam) {
			writeParamError(w, itemError(i, it.err))
			return
		}
	}
	out := make([]batchResult, len(batch))
	for i, it := range batch {
		err := it.err
		if err == nil {
			for _, t := range it.req.topics {
				if _, err = s.node.Publish(t, it.req.payload, it.req.qos, it.req.retain, it.req.clientID); err != nil {
					break
				}
			}
		}
		code, msg := resultOf(err)
		out[i] = batchResult{Topic: it.topic, Code: code, Message: msg}
	}
	writeData(w, out)
}
