package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// EMQX's API return codes (emqx_mgmt.hrl), in the "code" field of every response.
const (
	codeOK           = 0
	codeUnknown      = 102 // unknown error
	codeBadAuth      = 103 // username or password error
	codeNoAuth       = 104 // empty username or password
	codeMissingParam = 107 // missing request parameter
	codeParamType    = 108 // request parameter type error
	codeNotJSON      = 109 // request parameter is not a json
	codeNotOnline    = 112 // client not online (EMQX 4: also for a client id it does not know)
	codeBadTopic     = 115 // bad topic
	codeNotFound     = 404 // no such endpoint or node (EMQX answers a bare 404; ours has a body)
)

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":102,"message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeData answers {"code":0,"data":data}, EMQX's envelope of a successful read.
func writeData(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, struct {
		Code int `json:"code"`
		Data any `json:"data"`
	}{codeOK, data})
}

// writeError answers {"code":code,"message":msg} with the HTTP status.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}

// paramError is a request the API refuses: its EMQX code and a message naming the field.
type paramError struct {
	code int
	msg  string
}

func (e *paramError) Error() string { return e.msg }

func badParam(code int, format string, args ...any) *paramError {
	return &paramError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeParamError answers a refused request with 400 and its code and message.
func writeParamError(w http.ResponseWriter, err error) {
	var pe *paramError
	if errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, pe.code, pe.msg)
		return
	}
	writeError(w, http.StatusBadRequest, codeUnknown, err.Error())
}

// readBody reads a request body of at most limit bytes, trimmed of white space. An unreadable,
// empty or oversized body is a *paramError.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, badParam(codeNotJSON, "request body larger than %d bytes", limit)
		}
		return nil, badParam(codeNotJSON, "cannot read the request body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, badParam(codeNotJSON, "request body is empty, want a JSON object")
	}
	return body, nil
}

// readObject reads a request body of at most limit bytes holding exactly one JSON object and
// returns its members, undecoded. Anything else (no body, invalid JSON, another JSON type,
// trailing data, a body over limit) is a *paramError.
func readObject(w http.ResponseWriter, r *http.Request, limit int64) (map[string]json.RawMessage, error) {
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	if body[0] != '{' {
		return nil, badParam(codeNotJSON, "request body is not a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := decodeOne(body, "object", &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// decodeOne decodes body, which must hold exactly one JSON value (what: "object", "array"),
// into v.
func decodeOne(body []byte, what string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badParam(codeNotJSON, "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badParam(codeNotJSON, "request body has data after its JSON %s", what)
	}
	return nil
}

// Typed readers of one member of a request object; a wrong JSON type is a *paramError naming
// the field.

func fieldString(obj map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := obj[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", true, badParam(codeParamType, "field %q must be a string, got %s", name, jsonType(raw))
	}
	return s, true, nil
}

func fieldBool(obj map[string]json.RawMessage, name string) (bool, bool, error) {
	raw, ok := obj[name]
	if !ok {
		return false, false, nil
	}
	var b bool
	if (raw[0] != 't' && raw[0] != 'f') || json.Unmarshal(raw, &b) != nil {
		return false, true, badParam(codeParamType, "field %q must be true or false, got %s", name, jsonType(raw))
	}
	return b, true, nil
}

// fieldInt reads an integer member in [lo, hi].
func fieldInt(obj map[string]json.RawMessage, name string, lo, hi int64) (int64, bool, error) {
	raw, ok := obj[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, true, badParam(codeParamType, "field %q must be an integer from %d to %d, got %s", name, lo, hi, truncate(raw))
	}
	return n, true, nil
}

// jsonType names the JSON type of a raw value, for error messages.
func jsonType(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// truncate shortens a raw value quoted in an error message.
func truncate(raw json.RawMessage) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}
