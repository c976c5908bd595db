package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// Retained messages (beyond EMQX 3.2, whose retainer has only `emqx_ctl retainer`):
//
//	GET    /api/v4/retained?topic=<filter>&_page=&_limit=   a page of the retained messages
//	GET    /api/v4/retained/{topic}                          one (the topic URL-encoded)
//	DELETE /api/v4/retained/{topic}                          delete it (nothing is routed)

// retainedJSON is one retained message. The payload is text when it is valid UTF-8
// (encoding "plain"), else base64 (encoding "base64"), as POST /mqtt/publish takes it.
type retainedJSON struct {
	Topic     string `json:"topic"`
	Payload   string `json:"payload"`
	Encoding  string `json:"encoding"`
	Size      int    `json:"size"`
	QoS       uint8  `json:"qos"`
	From      string `json:"from_clientid"`
	CreatedAt string `json:"created_at"`
	ExpiryAt  string `json:"expiry_at,omitempty"`
}

func retainedOf(m *engine.RetainedMessage) retainedJSON {
	j := retainedJSON{Topic: m.Topic, Size: len(m.Payload), QoS: m.QoS, From: m.From,
		CreatedAt: m.Created.Format(time.RFC3339Nano), Encoding: "plain", Payload: string(m.Payload)}
	if !utf8.Valid(m.Payload) {
		j.Encoding, j.Payload = "base64", base64.StdEncoding.EncodeToString(m.Payload)
	}
	if !m.Expiry.IsZero() {
		j.ExpiryAt = m.Expiry.Format(time.RFC3339Nano)
	}
	return j
}

// retainedRoutes adds the retained-message endpoints to api.
func (s *Server) retainedRoutes(api *http.ServeMux) {
	api.HandleFunc("GET /api/v4/retained", s.retainedList)
	api.HandleFunc("GET /api/v4/retained/{topic...}", s.retainedOne)
	api.HandleFunc("DELETE /api/v4/retained/{topic...}", s.retainedDelete)
}

// GET /api/v4/retained: topic is a filter ("#" when absent: every topic but '$' ones).
func (s *Server) retainedList(w http.ResponseWriter, r *http.Request) {
	v, err := queryOf(r, append([]string{"topic"}, pagingParams...)...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(v)
	if err != nil {
		writeParamError(w, err)
		return
	}
	filter := v.Get("topic")
	if filter == "" {
		filter = "#"
	}
	if err := codec.ValidTopicFilter([]byte(filter)); err != nil {
		writeParamError(w, badParam(codeBadTopic, "query parameter \"topic\": bad topic filter %q: %v", filter, err))
		return
	}
	offset := 0
	if m.Page-1 <= (1<<31)/m.Limit {
		offset = (m.Page - 1) * m.Limit
	}
	total, msgs, err := s.node.RetainedMessages(filter, offset, m.Limit)
	if err != nil {
		writeParamError(w, badParam(codeBadTopic, "query parameter \"topic\": %v", err))
		return
	}
	out := make([]retainedJSON, len(msgs))
	for i := range msgs {
		out[i] = retainedOf(&msgs[i])
	}
	m.Count = total
	m.HasNext = offset+len(out) < total
	writePage(w, out, m)
}

// GET /api/v4/retained/{topic}.
func (s *Server) retainedOne(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	msg, ok := s.node.Retained(topic)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no retained message on topic "+topic)
		return
	}
	writeData(w, retainedOf(&msg))
}

// DELETE /api/v4/retained/{topic}.
func (s *Server) retainedDelete(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	if err := s.node.DeleteRetained(topic); err != nil {
		if errors.Is(err, engine.ErrNoRetained) {
			writeError(w, http.StatusNotFound, codeNotFound, "no retained message on topic "+topic)
			return
		}
		writeError(w, http.StatusInternalServerError, codeUnknown, "cannot delete the retained message of "+topic+": "+err.Error())
		return
	}
	writeOK(w)
}
