package authhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

// Param is one name=value pair of a request's params (auth.http.auth_req.params). A value
// that is exactly one placeholder (%u, %c...) is replaced by the client's value; any other
// value is sent as written.
type Param struct {
	Name, Value string
}

// ParseParams reads EMQX's params form: name=value pairs separated by commas
// ("clientid=%c,username=%u,password=%P").
func ParseParams(s string) ([]Param, error) {
	var out []Param
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("param %q is not name=value", kv)
		}
		out = append(out, Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out, nil
}

// Request is one of the plugin's requests (auth_req, super_req, acl_req).
type Request struct {
	URL    string
	Method string // http.MethodGet, MethodPost or MethodPut
	// JSON sends the params of a POST or PUT as a JSON object of strings instead of an HTML
	// form (content_type = json). A GET always puts them in the query string.
	JSON   bool
	Params []Param
}

// vars are the values the placeholders of a request stand for.
type vars struct {
	c      *engine.ClientInfo
	access acl.Access
	topic  string
	hasACL bool // access and topic are set (acl_req)
}

// value returns what placeholder v stands for; anything else is returned as it is.
//
//	%u user name, %c client id, %a peer IP address, %P password, %p and %l the listener's
//	port, %r protocol version, %m mountpoint, %A access (1 subscribe, 2 publish), %t topic;
//	%C and %d the common name and subject of the client's TLS certificate ("" without one).
func (x *vars) value(v string) string {
	c := x.c
	switch v {
	case "%u":
		return c.Username
	case "%c":
		return c.ClientID
	case "%a":
		if c.Peer.IsValid() {
			return c.Peer.Addr().Unmap().String()
		}
		return ""
	case "%P":
		return string(c.Password)
	case "%p", "%l":
		if c.Local.IsValid() {
			return strconv.Itoa(int(c.Local.Port()))
		}
		return ""
	case "%r":
		return strconv.Itoa(int(c.Version))
	case "%m":
		return c.Mountpoint
	case "%C":
		return c.CertCN
	case "%d":
		return c.CertDN
	case "%A":
		if !x.hasACL {
			return v
		}
		if x.access == acl.Subscribe {
			return "1"
		}
		return "2"
	case "%t":
		if !x.hasACL {
			return v
		}
		return x.topic
	}
	return v
}

// build writes the HTTP request of r for x into req. Every value is encoded (query escaping,
// form encoding or JSON), so nothing a client sends can change the request's structure.
func (r *Request) build(req *fasthttp.Request, x *vars) error {
	req.Header.SetMethod(r.Method)
	if r.Method == http.MethodGet || !r.JSON {
		b := fasthttp.AcquireArgs()
		defer fasthttp.ReleaseArgs(b)
		for _, p := range r.Params {
			b.Add(p.Name, x.value(p.Value))
		}
		if r.Method == http.MethodGet {
			target := r.URL
			if b.Len() > 0 {
				sep := "?"
				if strings.Contains(target, "?") {
					sep = "&"
				}
				target += sep + string(b.QueryString())
			}
			req.SetRequestURI(target)
			return nil
		}
		req.SetRequestURI(r.URL)
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBody(b.QueryString())
		return nil
	}
	m := make(map[string]string, len(r.Params))
	for _, p := range r.Params {
		m[p.Name] = x.value(p.Value)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req.SetRequestURI(r.URL)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(data)
	return nil
}
