package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

const explainRules = `% test rules
{deny, {user, "bob"}, publish, ["secret/#"]}.
{allow, all, subscribe, ["open/#"]}.
{allow, all, publish, ["cache/#"]}.
`

// rootAuth authenticates username "root" as a superuser and passes on everyone else.
type rootAuth struct{}

func (rootAuth) Name() string { return "root-auth" }
func (rootAuth) Authenticate(_ context.Context, c *engine.ClientInfo) engine.AuthResult {
	if c.Username == "root" {
		return engine.AuthResult{Decision: engine.AuthAllow, Superuser: true}
	}
	return engine.AuthResult{Decision: engine.AuthIgnore}
}

// topicAuthz decides topics starting with its prefix (allow or deny) and ignores the rest.
type topicAuthz struct {
	name, prefix string
	decision     engine.AuthDecision
}

func (a topicAuthz) Name() string { return a.name }
func (a topicAuthz) Authorize(_ context.Context, _ *engine.ClientInfo, _ acl.Access, topic string) engine.AuthDecision {
	if strings.HasPrefix(topic, a.prefix) {
		return a.decision
	}
	return engine.AuthIgnore
}

func (e *env) explain(t *testing.T, id, action, topic string) explainJSON {
	t.Helper()
	var out explainJSON
	e.getData(t, "/api/v4/acl/explain?clientid="+url.QueryEscape(id)+"&action="+action+"&topic="+url.QueryEscape(topic), &out)
	return out
}

// TestACLExplain: each source of a decision (acl.conf rule with file and line, acl_nomatch,
// superuser, the authorizer chain, the ACL cache, a zone with the ACL off), the checked topic
// under a mountpoint, and refused requests. The explanation changes nothing: the cache stays
// unfilled.
func TestACLExplain(t *testing.T) {
	rules, err := acl.Parse("etc/acl.conf", []byte(explainRules))
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, func(c *engine.Config) {
		c.ACL, c.ACLNoMatch = rules, acl.Deny
		c.ACLCacheSize, c.ACLCacheTTL = 8, time.Minute
		open := engine.DefaultZone()
		open.Name, open.EnableACL, open.Mountpoint = "open", false, "m/"
		c.Listeners = append(c.Listeners, engine.Listener{Kind: "tcp", Name: "open", Addr: "127.0.0.1:0", Zone: open})
	}, nil)
	e.node.SetAuthenticators(rootAuth{})
	bob := connect5(t, e.mqtt, &paho.Connect{ClientID: "bob-1", Username: "bob", CleanStart: true})
	connect5(t, e.mqtt, &paho.Connect{ClientID: "root-1", Username: "root", CleanStart: true})
	connect5(t, e.node.Addr("open"), &paho.Connect{ClientID: "free-1", CleanStart: true})

	f := func(got explainJSON, result, source, reason string) {
		t.Helper()
		if got.Result != result || got.Source != source || !strings.Contains(got.Reason, reason) {
			t.Fatalf("explanation %+v, want %s by %s with %q in the reason", got, result, source, reason)
		}
	}
	x := e.explain(t, "bob-1", "publish", "secret/plans")
	f(x, "deny", "acl_file", `etc/acl.conf:2: {deny, {user, "bob"}, publish, ["secret/#"]}`)
	if x.File != "etc/acl.conf" || x.Line != 2 || x.Rule != `{deny, {user, "bob"}, publish, ["secret/#"]}.` ||
		x.Username != "bob" || x.IPAddress != "127.0.0.1" || x.Zone != "external" || x.CheckedTopic != "secret/plans" || x.Action != "publish" {
		t.Fatalf("explanation %+v", x)
	}
	x = e.explain(t, "bob-1", "subscribe", "$share/g/open/+")
	f(x, "allow", "acl_file", "etc/acl.conf:3:")
	if x.CheckedTopic != "open/+" || x.Line != 3 {
		t.Fatalf("shared subscription explanation %+v", x)
	}
	f(e.explain(t, "bob-1", "subscribe", "closed/x"), "deny", "acl_nomatch", "acl_nomatch is deny")
	f(e.explain(t, "root-1", "publish", "secret/plans"), "allow", "superuser", "superuser")
	x = e.explain(t, "free-1", "subscribe", "anything/#")
	f(x, "allow", "acl_disabled", `zone "open"`)
	if x.CheckedTopic != "m/anything/#" {
		t.Fatalf("mountpoint not applied: %+v", x)
	}

	// The cache: a real publish fills it, an explanation reads it and does not fill it.
	f(e.explain(t, "bob-1", "publish", "cache/a"), "allow", "acl_file", "etc/acl.conf:4:")
	f(e.explain(t, "bob-1", "publish", "cache/a"), "allow", "acl_file", "etc/acl.conf:4:")
	if rc := bob.publish(t, "cache/a", "x"); rc >= 0x80 {
		t.Fatalf("publish to cache/a refused: 0x%02x", rc)
	}
	x = e.explain(t, "bob-1", "publish", "cache/a")
	f(x, "allow", "acl_cache", "acl_cache_ttl")
	if x.CacheExpires == "" {
		t.Fatalf("cache explanation without expiry: %+v", x)
	}
	// A refused publish is cached too.
	if rc := bob.publish(t, "secret/x", "x"); rc != 0x87 {
		t.Fatalf("publish to secret/x: 0x%02x, want 0x87", rc)
	}
	f(e.explain(t, "bob-1", "publish", "secret/x"), "deny", "acl_cache", "deny decision")

	// The authorizer chain comes before acl.conf; the ignoring links are named.
	e.node.SetAuthorizers(topicAuthz{"first", "none/", engine.AuthAllow}, topicAuthz{"second", "az/", engine.AuthDeny})
	x = e.explain(t, "bob-1", "subscribe", "az/1")
	f(x, "deny", "authorizer", `"second" answered deny`)
	if x.Authorizer != "second" || !slices.Equal(x.Ignored, []string{"first"}) {
		t.Fatalf("authorizer explanation %+v", x)
	}
	x = e.explain(t, "bob-1", "subscribe", "open/1")
	f(x, "allow", "acl_file", "etc/acl.conf:3:")
	if !slices.Equal(x.Ignored, []string{"first", "second"}) {
		t.Fatalf("explanation after the chain %+v", x)
	}
	e.node.SetAuthorizers()

	q := "/api/v4/acl/explain?"
	e.refused(t, "GET", q+"clientid=bob-1&topic=a", "", http.StatusBadRequest, codeMissingParam, `"action"`)
	e.refused(t, "GET", q+"clientid=bob-1&action=publish", "", http.StatusBadRequest, codeMissingParam, `"topic"`)
	e.refused(t, "GET", q+"topic=a&action=publish", "", http.StatusBadRequest, codeMissingParam, `"clientid"`)
	e.refused(t, "GET", q+"clientid=bob-1&topic=a&action=read", "", http.StatusBadRequest, codeParamType, `"action"`)
	e.refused(t, "GET", q+"clientid=bob-1&topic=a%2F%2B&action=publish", "", http.StatusBadRequest, codeBadTopic, `"topic"`)
	e.refused(t, "GET", q+"clientid=bob-1&topic=a%2F%23%2Fb&action=subscribe", "", http.StatusBadRequest, codeBadTopic, `"topic"`)
	e.refused(t, "GET", q+"clientid=bob-1&topic=a&action=publish&user=x", "", http.StatusBadRequest, codeParamType, `"user"`)
	e.refused(t, "GET", q+"clientid=ghost&topic=a&action=publish", "", http.StatusNotFound, codeNotOnline, `"ghost"`)
	if status, _ := e.do(t, "GET", "/api/v3/acl/explain?clientid=bob-1&topic=a&action=publish", "", true); status != http.StatusNotFound {
		t.Fatalf("acl/explain is a v4 endpoint: /api/v3 answered %d", status)
	}
}
