package plugins

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"github.com/emqgo/emqgo/engine/service/authhttp"
)

// httpKeys are the keys of etc/plugins/emqx_auth_http.conf: EMQX 3.2's, plus the
// content_type of each request that EMQX 4.1 added (x-www-form-urlencoded or json).
var httpKeys = func() []Key {
	keys := []Key{
		{Pattern: "auth.http.request.timeout", Default: "0"},
		{Pattern: "auth.http.request.connect_timeout"},
		{Pattern: "auth.http.request.retry_times", Default: "3"},
		{Pattern: "auth.http.request.retry_interval", Default: "1s"},
		{Pattern: "auth.http.request.retry_backoff", Default: "2.0"},
		{Pattern: "auth.http.ssl.cacertfile"},
		{Pattern: "auth.http.ssl.certfile"},
		{Pattern: "auth.http.ssl.keyfile"},
	}
	for _, r := range []string{"auth_req", "super_req", "acl_req"} {
		p := "auth.http." + r
		keys = append(keys, Key{Pattern: p}, Key{Pattern: p + ".method", Default: "post"},
			Key{Pattern: p + ".params"}, Key{Pattern: p + ".content_type", Default: "x-www-form-urlencoded"})
	}
	return keys
}()

// startHTTP starts emqx_auth_http.
func startHTTP(e *Env) (*Instance, error) {
	c := LoadConf(authhttp.Name, "auth.http.", httpKeys, e.EtcDir, e.Home, e.Environ)
	cfg := authhttp.Config{
		Auth:           httpRequest(c, "auth_req"),
		Super:          httpRequest(c, "super_req"),
		ACL:            httpRequest(c, "acl_req"),
		Timeout:        c.Duration("auth.http.request.timeout"),
		ConnectTimeout: c.Duration("auth.http.request.connect_timeout"),
		RetryTimes:     c.Int("auth.http.request.retry_times"),
		RetryInterval:  c.Duration("auth.http.request.retry_interval"),
		RetryBackoff:   c.Float("auth.http.request.retry_backoff"),
	}
	if cfg.RetryTimes < 0 {
		c.Fail("auth.http.request.retry_times", "must not be negative")
	}
	cfg.TLS = httpTLS(c)
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authhttp.Name, "the HTTP backend")
	p, err := authhttp.New(cfg, e.Log)
	if err != nil {
		return nil, fmt.Errorf("configuration of %s: %w", authhttp.Name, err)
	}
	return linksInstance(p.Authenticator(), p.Authorizer(), cfg.Monitor, p.Close), nil
}

// httpRequest reads auth.http.<name> and its method, params and content type; nil when the
// URL is unset.
func httpRequest(c *Conf, name string) *authhttp.Request {
	p := "auth.http." + name
	u := c.Str(p)
	if u == "" {
		return nil
	}
	r := &authhttp.Request{URL: u}
	switch strings.ToLower(c.Str(p + ".method")) {
	case "get":
		r.Method = http.MethodGet
	case "post":
		r.Method = http.MethodPost
	case "put":
		r.Method = http.MethodPut
	default:
		c.Fail(p+".method", "expected post, get or put, got "+c.Str(p+".method"))
	}
	switch c.Str(p + ".content_type") {
	case "x-www-form-urlencoded", "application/x-www-form-urlencoded":
	case "json", "application/json":
		r.JSON = true
	default:
		c.Fail(p+".content_type", "expected x-www-form-urlencoded or json, got "+c.Str(p+".content_type"))
	}
	params, err := authhttp.ParseParams(c.Str(p + ".params"))
	if err != nil {
		c.Fail(p+".params", err.Error())
	}
	r.Params = params
	return r
}

// httpTLS reads auth.http.ssl.*: nil when none is set.
func httpTLS(c *Conf) *tls.Config { return tlsFiles(c, "auth.http.ssl.") }
