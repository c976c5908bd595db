package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// defaultBanTime is how long a ban added through the API lasts when the request gives no
// "until" (EMQX 4's five minutes).
const defaultBanTime = 5 * time.Minute

// banJSON is a ban as EMQX 4's /banned shows it: "as" is clientid, username or peerhost;
// "at" and "until" are Unix seconds, "until" is "infinity" for a ban without end (added with
// emqx_ctl).
type banJSON struct {
	Who    string `json:"who"`
	As     string `json:"as"`
	Reason string `json:"reason"`
	By     string `json:"by"`
	At     int64  `json:"at"`
	Until  any    `json:"until"`
}

// banAs is EMQX 4's name of a ban kind.
func banAs(k engine.BanKind) string {
	switch k {
	case engine.BanClientID:
		return "clientid"
	case engine.BanPeer:
		return "peerhost"
	}
	return k.String()
}

func banOf(b *engine.Ban) banJSON {
	j := banJSON{Who: b.Value, As: banAs(b.Kind), Reason: b.Reason, By: b.By, At: b.At.Unix(), Until: "infinity"}
	if !b.Until.IsZero() {
		j.Until = b.Until.Unix()
	}
	return j
}

// GET /api/v4/banned: the bans in force, paged.
func (s *Server) listBanned(w http.ResponseWriter, r *http.Request) {
	q, err := queryOf(r, pagingParams...)
	if err != nil {
		writeParamError(w, err)
		return
	}
	m, err := pagingOf(q)
	if err != nil {
		writeParamError(w, err)
		return
	}
	bans := s.node.Bans()
	out := make([]banJSON, len(bans))
	for i := range bans {
		out[i] = banOf(&bans[i])
	}
	writePage(w, pageOf(out, &m), m)
}

var banFields = []string{"who", "as", "reason", "by", "at", "until"}

// POST /api/v4/banned: {"who", "as", "reason", "by" (default "mgmt_api"), "until" (Unix
// seconds, default five minutes from now; "infinity": no end)}; the answer's data is the ban.
// The banned service writes the table to its file (Node.OnBansChanged).
func (s *Server) addBanned(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeParamError(w, err)
		return
	}
	for name := range obj {
		if !slices.Contains(banFields, name) {
			writeParamError(w, badParam(codeParamType, "unknown field %q (known: %s)", name, strings.Join(banFields, ", ")))
			return
		}
	}
	str := func(name string) string {
		v, _, e := fieldString(obj, name)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	who, as, reason, by := str("who"), str("as"), str("reason"), str("by")
	if _, _, e := fieldInt(obj, "at", 0, 1<<40); e != nil && err == nil {
		err = e // accepted for EMQX's clients, but the node stamps the time itself
	}
	if err != nil {
		writeParamError(w, err)
		return
	}
	for _, f := range []string{"who", "as"} {
		if _, ok := obj[f]; !ok {
			writeError(w, http.StatusBadRequest, codeMissingParam, fmt.Sprintf("field %q is required", f))
			return
		}
	}
	kind, ok := engine.ParseBanKind(as)
	if !ok {
		writeError(w, http.StatusBadRequest, codeParamType, fmt.Sprintf("field \"as\" must be clientid, username or peerhost, got %q", as))
		return
	}
	value, ok := engine.NormalizeBanValue(kind, who)
	if !ok {
		writeError(w, http.StatusBadRequest, codeParamType, fmt.Sprintf("field \"who\" %q is not a valid %s", who, banAs(kind)))
		return
	}
	now := time.Now()
	until := now.Add(defaultBanTime)
	if raw, ok := obj["until"]; ok {
		if string(raw) == `"infinity"` {
			until = time.Time{}
		} else {
			n, _, err := fieldInt(obj, "until", 0, 1<<40)
			if err != nil {
				writeError(w, http.StatusBadRequest, codeParamType, fmt.Sprintf("field \"until\" must be Unix seconds or \"infinity\", got %s", truncate(raw)))
				return
			}
			if until = time.Unix(n, 0); !until.After(now) {
				writeError(w, http.StatusBadRequest, codeParamType, fmt.Sprintf("field \"until\" (%d) is not in the future", n))
				return
			}
		}
	}
	if by == "" {
		by = "mgmt_api"
	}
	b := engine.Ban{Kind: kind, Value: value, By: by, Reason: reason, At: now, Until: until}
	s.node.AddBan(b)
	writeData(w, banOf(&b))
}

// DELETE /api/v4/banned/{as}/{who}.
func (s *Server) deleteBanned(w http.ResponseWriter, r *http.Request) {
	as, who := r.PathValue("as"), r.PathValue("who")
	kind, ok := engine.ParseBanKind(as)
	if !ok {
		writeError(w, http.StatusBadRequest, codeParamType, fmt.Sprintf("{as} must be clientid, username or peerhost, got %q", as))
		return
	}
	value, ok := engine.NormalizeBanValue(kind, who)
	if !ok || !s.node.DeleteBan(kind, value) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no ban of %s %q", banAs(kind), who))
		return
	}
	writeOK(w)
}
