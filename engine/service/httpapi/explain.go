package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// explainJSON is the answer of GET /api/v4/acl/explain (beyond EMQX). Members that do not
// apply to the deciding source are left out.
type explainJSON struct {
	ClientID     string   `json:"clientid"`
	Username     string   `json:"username"`
	IPAddress    string   `json:"ip_address"`
	Zone         string   `json:"zone"`
	Action       string   `json:"action"`
	Topic        string   `json:"topic"`
	CheckedTopic string   `json:"checked_topic"` // after rewrite and mountpoint, without a shared prefix
	Result       string   `json:"result"`        // allow or deny
	Source       string   `json:"source"`        // acl_disabled, superuser, acl_cache, authorizer, acl_file, acl_nomatch
	Reason       string   `json:"reason"`
	Authorizer   string   `json:"authorizer,omitempty"`
	Ignored      []string `json:"ignored_by,omitempty"` // authorizers that passed the question on
	File         string   `json:"file,omitempty"`
	Line         int      `json:"line,omitempty"`
	Rule         string   `json:"rule,omitempty"`
	CacheExpires string   `json:"cache_expires_at,omitempty"`
}

// GET /api/v4/acl/explain?clientid=c&topic=t&action=publish|subscribe: how the broker would
// decide that request of the connected client c now, which source decides (acl_disabled,
// superuser, acl_cache, authorizer, acl_file with file, line and rule, acl_nomatch) and why.
// Nothing changes: the ACL cache is read, not filled (an authorizer backend is asked, as for
// a real check). Missing parameter: 400 (107); bad action: 400 (108); bad topic: 400 (115);
// client not connected: 404 (112).
func (s *Server) aclExplain(w http.ResponseWriter, r *http.Request) {
	v, err := queryOf(r, "clientid", "topic", "action")
	if err != nil {
		writeParamError(w, err)
		return
	}
	for _, name := range []string{"clientid", "topic", "action"} {
		if v.Get(name) == "" {
			writeParamError(w, badParam(codeMissingParam, "missing query parameter %q", name))
			return
		}
	}
	var access acl.Access
	switch a := v.Get("action"); a {
	case "publish", "pub":
		access = acl.Publish
	case "subscribe", "sub":
		access = acl.Subscribe
	default:
		writeParamError(w, badParam(codeParamType, "query parameter \"action\" must be publish or subscribe, got %q", a))
		return
	}
	id, topic := v.Get("clientid"), v.Get("topic")
	e, err := s.node.ExplainACL(r.Context(), id, access, topic)
	switch {
	case errors.Is(err, engine.ErrNoClient):
		writeError(w, http.StatusNotFound, codeNotOnline, fmt.Sprintf("no connected client with client id %q", id))
		return
	case err != nil && (strings.Contains(err.Error(), "invalid topic") || strings.Contains(err.Error(), "rewrite")):
		writeParamError(w, badParam(codeBadTopic, "query parameter \"topic\": %v", err))
		return
	case err != nil:
		writeEngineError(w, err)
		return
	}
	out := explainJSON{
		ClientID: e.ClientID, Username: e.Username, Zone: e.Zone, Action: e.Access.String(),
		Topic: e.Topic, CheckedTopic: e.Checked, Result: "deny", Source: string(e.Source), Reason: e.Reason,
		Authorizer: e.Authorizer, Ignored: e.Ignored,
	}
	if e.Peer.IsValid() {
		out.IPAddress = e.Peer.Unmap().String()
	}
	if e.Allow {
		out.Result = "allow"
	}
	switch e.Source {
	case engine.ACLSourceFile:
		out.File, out.Line, out.Rule = e.File, e.Rule.Line, e.Rule.Text
	case engine.ACLSourceNoMatch:
		out.File = e.File
	case engine.ACLSourceCache:
		out.CacheExpires = apiTime(e.CacheExpires)
	}
	writeData(w, out)
}
