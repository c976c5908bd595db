package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/emqgo/emqgo/codec"
)

// defaultPublisher is the publisher's client id of an API publish that names none.
const defaultPublisher = "http_api"

// publishFields are the members a publish request may have (EMQX 3.x wrote client_id, 4.x
// clientid; both are accepted).
var publishFields = []string{"topic", "topics", "payload", "encoding", "qos", "retain", "client_id", "clientid"}

// publishRequest is a validated POST /api/v{3,4}/mqtt/publish body.
type publishRequest struct {
	topics   []string
	payload  []byte
	qos      uint8
	retain   bool
	clientID string
}

// publish serves POST /api/v3/mqtt/publish and /api/v4/mqtt/publish, as the guide's curl
// example: {"topic":"world","payload":"test","qos":1,"retain":false,"client_id":"C_1"}. The
// whole request is checked before anything is published: a refused request publishes nothing.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	req, err := parsePublish(obj)
	if err != nil {
		writeParamError(w, err)
		return
	}
	for _, t := range req.topics {
		if _, err := s.node.Publish(t, req.payload, req.qos, req.retain, req.clientID); err != nil {
			// parsePublish checked what Publish checks: this is not the client's fault.
			writeError(w, http.StatusInternalServerError, codeUnknown, "publish to "+t+" failed: "+err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Code int `json:"code"`
	}{codeOK})
}

// parsePublish checks every member of a publish request.
func parsePublish(obj map[string]json.RawMessage) (*publishRequest, error) {
	for name := range obj {
		if !slices.Contains(publishFields, name) {
			return nil, badParam(codeParamType, "unknown field %q (known: %s)", name, strings.Join(publishFields, ", "))
		}
	}
	req := &publishRequest{clientID: defaultPublisher}

	topic, hasTopic, err := fieldString(obj, "topic")
	if err != nil {
		return nil, err
	}
	topics, hasTopics, err := fieldString(obj, "topics")
	if err != nil {
		return nil, err
	}
	if hasTopic && topic != "" {
		req.topics = append(req.topics, topic)
	}
	if hasTopics {
		for t := range strings.SplitSeq(topics, ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(req.topics, t) {
				req.topics = append(req.topics, t)
			}
		}
	}
	if len(req.topics) == 0 {
		return nil, badParam(codeMissingParam, "missing field \"topic\" or \"topics\"")
	}
	for _, t := range req.topics {
		if err := codec.ValidTopicName([]byte(t)); err != nil {
			field := "topic"
			if hasTopics && t != topic {
				field = "topics"
			}
			return nil, badParam(codeBadTopic, "field %q: bad topic %q: %v", field, t, err)
		}
	}

	payload, _, err := fieldString(obj, "payload")
	if err != nil {
		return nil, err
	}
	encoding, _, err := fieldString(obj, "encoding")
	if err != nil {
		return nil, err
	}
	switch encoding {
	case "", "plain":
		req.payload = []byte(payload)
	case "base64":
		if req.payload, err = base64.StdEncoding.DecodeString(payload); err != nil {
			return nil, badParam(codeParamType, "field \"payload\" is not valid base64 (encoding is base64): %v", err)
		}
	default:
		return nil, badParam(codeParamType, "field \"encoding\" must be \"plain\" or \"base64\", got %q", encoding)
	}

	qos, _, err := fieldInt(obj, "qos", 0, 2)
	if err != nil {
		return nil, err
	}
	req.qos = uint8(qos)
	if req.retain, _, err = fieldBool(obj, "retain"); err != nil {
		return nil, err
	}

	id3, has3, err := fieldString(obj, "client_id")
	if err != nil {
		return nil, err
	}
	id4, has4, err := fieldString(obj, "clientid")
	if err != nil {
		return nil, err
	}
	switch {
	case has3 && has4 && id3 != id4:
		return nil, badParam(codeParamType, "fields \"client_id\" and \"clientid\" differ; give one")
	case has4 && id4 != "":
		req.clientID = id4
	case has3 && id3 != "":
		req.clientID = id3
	}
	return req, nil
}
