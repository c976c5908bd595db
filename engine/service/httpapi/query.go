package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging of list endpoints, as EMQX 4.x: _page counts from 1, _limit is the page size
// (default and maximum 10000), and the answer carries meta {page, limit, hasnext, count}.
const (
	defaultLimit = 10000
	maxLimit     = 10000
)

// pagingParams are the query parameters every paged list accepts.
var pagingParams = []string{"_page", "_limit"}

// pageMeta is the "meta" member of a paged answer; count is how many items matched in all.
type pageMeta struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	HasNext bool `json:"hasnext"`
	Count   int  `json:"count"`
}

// queryOf returns r's query parameters after checking that each is one of known (a typo in
// a filter would otherwise silently list everything) and given once.
func queryOf(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam(codeParamType, "query string is malformed: %v", err)
	}
	for name, vs := range q {
		if !slices.Contains(known, name) {
			return nil, badParam(codeParamType, "unknown query parameter %q (known: %s)", name, strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return nil, badParam(codeParamType, "query parameter %q is given %d times", name, len(vs))
		}
	}
	return q, nil
}

// pagingOf reads _page and _limit.
func pagingOf(q url.Values) (pageMeta, error) {
	m := pageMeta{Page: 1, Limit: defaultLimit}
	if v, ok := q["_page"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return m, badParam(codeParamType, "query parameter \"_page\" must be an integer from 1, got %q", v[0])
		}
		m.Page = n
	}
	if v, ok := q["_limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return m, badParam(codeParamType, "query parameter \"_limit\" must be an integer from 1, got %q", v[0])
		}
		m.Limit = min(n, maxLimit)
	}
	return m, nil
}

// pageOf returns the page m asks for of items and completes m.
func pageOf[T any](items []T, m *pageMeta) []T {
	m.Count = len(items)
	from := len(items)
	if m.Page-1 <= len(items)/m.Limit { // else past the end (and the product might overflow)
		from = min((m.Page-1)*m.Limit, len(items))
	}
	to := min(from+m.Limit, len(items))
	m.HasNext = to < len(items)
	out := items[from:to]
	if out == nil {
		out = []T{} // "data":[] rather than null
	}
	return out
}

// writePage answers {"code":0,"data":data,"meta":m}.
func writePage(w http.ResponseWriter, data any, m pageMeta) {
	writeJSON(w, http.StatusOK, struct {
		Code int      `json:"code"`
		Data any      `json:"data"`
		Meta pageMeta `json:"meta"`
	}{codeOK, data, m})
}

// boolParam reads a "true"/"false" query parameter.
func boolParam(q url.Values, name string) (*bool, error) {
	v, ok := q[name]
	if !ok {
		return nil, nil
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		return nil, badParam(codeParamType, "query parameter %q must be true or false, got %q", name, v[0])
	}
	return &b, nil
}

// timeParam reads a time bound: a Unix time in seconds or, from 10^12 on, milliseconds (EMQX
// 4 takes integers), or RFC 3339, or "2006-01-02 15:04:05" in local time (the form the API
// prints).
func timeParam(q url.Values, name string) (time.Time, error) {
	v, ok := q[name]
	if !ok {
		return time.Time{}, nil
	}
	s := v[0]
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		if n >= 1e12 {
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateTime, s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, badParam(codeParamType, "query parameter %q must be a Unix time in seconds or milliseconds, RFC 3339 or \"YYYY-MM-DD hh:mm:ss\", got %q", name, s)
}

// apiTime prints a time as EMQX 4.x's API does: "2020-02-19 17:01:26", local time; "" for
// the zero time.
func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.DateTime)
}
