// Package authhttp is the emqx_auth_http plugin: the broker asks an HTTP service whether a
// client may connect (auth_req), whether it is a superuser (super_req) and whether it may
// publish or subscribe to a topic (acl_req). A 200 answer allows, a 200 answer whose body is
// "ignore" leaves the decision to the rest of the chain, anything else denies, as EMQX does.
//
// Requests go through one keep-alive HTTP/1.1 connection pool per backend host
// (github.com/valyala/fasthttp's client: a worker writes its request and reads the answer
// on its own goroutine, with reused request and response buffers, where net/http hands each
// request to two goroutines of the connection and allocates it afresh: in a connect storm
// that was about half of the broker's CPU per authenticated client and most of its
// goroutine wake-ups), optionally over TLS (auth.http.ssl.*). Answers are read up to
// maxBody bytes; a longer one counts as no answer. A backend that cannot be reached (refused, reset, timed out) makes
// the connect fail with "server unavailable" (MQTT 5 0x88, 3.x return code 3) and the access
// check deny; the plugin's backend.Monitor logs and alarms an outage once, and its end, and
// counts every request and failure. The plugin's Authorizer runs on the engine's side pool,
// never on an event loop; its Authenticator is also an engine.AsyncAuthenticator: connecting
// clients queue for the plugin's workers, one per pool connection (engine.AuthWorkers).
package authhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
)

// Name is the plugin's name.
const Name = "emqx_auth_http"

// Config is the plugin's settings (etc/plugins/emqx_auth_http.conf).
type Config struct {
	Auth  *Request // auth_req; nil: the plugin does not authenticate
	Super *Request // super_req; nil: nobody is a superuser through this plugin
	ACL   *Request // acl_req; nil: the plugin does not authorize

	// Timeout bounds one request (auth.http.request.timeout); 0 leaves it to the chain's
	// deadline. ConnectTimeout bounds establishing a connection (connect_timeout); 0: Timeout.
	Timeout, ConnectTimeout time.Duration
	// A request that fails to reach the backend is sent again RetryTimes times, after
	// RetryInterval, multiplied by RetryBackoff after each attempt, within the deadline.
	RetryTimes    int
	RetryInterval time.Duration
	RetryBackoff  float64
	// TLS is used for https:// URLs; nil: Go's defaults (the system's roots).
	TLS *tls.Config
	// PoolSize is the number of keep-alive connections to the backend; 0: 32. Requests beyond
	// it wait for a free connection (within their deadline) instead of dialling one more: a
	// connect storm of many concurrent clients reuses the pool instead of opening and closing
	// a connection per request.
	PoolSize int
	// Monitor counts requests and failures and logs and alarms outages; nil: one of its own.
	Monitor *backend.Monitor
}

// Plugin is a running emqx_auth_http. Safe for concurrent use; Close releases its
// connections.
type Plugin struct {
	cfg    Config
	client *fasthttp.Client
	mon    *backend.Monitor
	async  *engine.AuthWorkers // one worker per pool connection
}

// New returns the plugin of cfg; log receives its outage lines.
func New(cfg Config, log *slog.Logger) (*Plugin, error) {
	if cfg.Auth == nil && cfg.ACL == nil {
		return nil, errors.New("neither auth.http.auth_req nor auth.http.acl_req is set: the plugin would do nothing")
	}
	if cfg.Super != nil && cfg.Auth == nil {
		return nil, errors.New("auth.http.super_req is set without auth.http.auth_req")
	}
	for _, r := range []*Request{cfg.Auth, cfg.Super, cfg.ACL} {
		if r == nil {
			continue
		}
		if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
			return nil, fmt.Errorf("URL %q is neither http:// nor https://", r.URL)
		}
		if _, err := http.NewRequest(r.Method, r.URL, nil); err != nil {
			return nil, fmt.Errorf("URL %q: %w", r.URL, err)
		}
	}
	pool := cfg.PoolSize
	if pool <= 0 {
		pool = 32
	}
	connect := cfg.ConnectTimeout
	if connect == 0 {
		connect = cfg.Timeout
	}
	client := &fasthttp.Client{
		Name:                "emqgo-auth-http",
		TLSConfig:           cfg.TLS,
		MaxConnsPerHost:     pool,
		MaxConnWaitTimeout:  maxConnWait, // the request's deadline comes first
		MaxIdleConnDuration: 90 * time.Second,
		MaxResponseBodySize: maxBody,
		// A keep-alive connection the backend closed between two requests fails the next
		// one before it was answered: it is sent again once on a fresh connection (every
		// request of this plugin only reads the backend's data). Other failures are the
		// plugin's own retries (do), counted.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && !backend.IsTimeout(err) && isStale(err)
		},
		DisablePathNormalizing: true,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if connect > 0 && (timeout <= 0 || connect < timeout) {
				timeout = connect
			}
			d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
			return d.Dial("tcp", addr)
		},
	}
	mon := cfg.Monitor
	if mon == nil {
		mon = backend.New(Name, "the HTTP backend", log)
	}
	p := &Plugin{cfg: cfg, client: client, mon: mon}
	p.async = engine.NewAuthWorkers(authenticator{p}, pool)
	return p, nil
}

// Close stops the authentication workers (clients already queued are still answered, later
// ones refused) and closes the idle connections to the backend.
func (p *Plugin) Close() {
	p.async.Close()
	p.client.CloseIdleConnections()
}

// Monitor returns the plugin's backend monitor (its counters and outage state).
func (p *Plugin) Monitor() *backend.Monitor { return p.mon }

// outcome is what one request concluded.
type outcome uint8

const (
	allow   outcome = iota // 200
	ignore                 // 200 with the body "ignore"
	deny                   // any other status
	failure                // no answer (refused, reset, timed out)
)

// maxBody bounds the answer read from the backend: only its status and whether its body is
// "ignore" matter.
const maxBody = 64 << 10

// maxConnWait bounds how long a request waits for a free pool connection when its context
// has no deadline (the chain's always has one).
const maxConnWait = 30 * time.Second

// isStale reports whether err is a keep-alive connection the backend closed before answering.
func isStale(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// do sends r with x's values, retrying when the backend does not answer.
func (p *Plugin) do(ctx context.Context, r *Request, x *vars) (outcome, error) {
	wait := p.cfg.RetryInterval
	for attempt := 0; ; attempt++ {
		p.mon.Sent()
		o, err := p.once(ctx, r, x)
		if o != failure {
			p.mon.Answered()
			return o, nil
		}
		if attempt >= p.cfg.RetryTimes || ctx.Err() != nil {
			return failure, p.mon.NoAnswer(err, p.cfg.Timeout)
		}
		if backend.IsTimeout(err) { // a failure retried: counted, not yet an outage
			p.mon.Inc(backend.Timeouts)
		} else {
			p.mon.Inc(backend.Errors)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if p.cfg.RetryBackoff > 0 {
			wait = time.Duration(float64(wait) * p.cfg.RetryBackoff)
		}
	}
}

func (p *Plugin) once(ctx context.Context, r *Request, x *vars) (outcome, error) {
	deadline, ok := ctx.Deadline()
	if p.cfg.Timeout > 0 {
		if t := time.Now().Add(p.cfg.Timeout); !ok || t.Before(deadline) {
			deadline, ok = t, true
		}
	}
	if !ok {
		deadline = time.Now().Add(maxConnWait)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if err := r.build(req, x); err != nil {
		return failure, err
	}
	if err := p.client.DoDeadline(req, resp, deadline); err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
			errors.Is(err, fasthttp.ErrNoFreeConns) {
			err = fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
		}
		return failure, err
	}
	switch {
	case resp.StatusCode() != http.StatusOK:
		return deny, nil
	case string(bytes.TrimSpace(resp.Body())) == "ignore":
		return ignore, nil
	}
	return allow, nil
}

// Authenticator is the plugin's link of the authentication chain, nil when auth_req is unset.
func (p *Plugin) Authenticator() engine.Authenticator {
	if p.cfg.Auth == nil {
		return nil
	}
	return authenticator{p}
}

// Authorizer is the plugin's link of the access-control chain, nil when acl_req is unset.
func (p *Plugin) Authorizer() engine.Authorizer {
	if p.cfg.ACL == nil {
		return nil
	}
	return authorizer{p}
}

type authenticator struct{ p *Plugin }

func (authenticator) Name() string { return Name }

// AuthenticateAsync implements engine.AsyncAuthenticator: a connect storm's clients queue for
// the plugin's workers, one per pool connection, instead of taking one side-pool goroutine
// each that would wait for a connection.
func (a authenticator) AuthenticateAsync(deadline time.Time, c *engine.ClientInfo, done func(engine.AuthResult)) {
	a.p.async.AuthenticateAsync(deadline, c, done)
}

// Authenticate implements engine.Authenticator.
func (a authenticator) Authenticate(ctx context.Context, c *engine.ClientInfo) engine.AuthResult {
	p := a.p
	x := &vars{c: c}
	o, err := p.do(ctx, p.cfg.Auth, x)
	switch o {
	case ignore:
		return engine.AuthResult{Decision: engine.AuthIgnore}
	case deny:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "refused by the HTTP backend"}
	case failure:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: "the HTTP backend did not answer: " + err.Error()}
	}
	r := engine.AuthResult{Decision: engine.AuthAllow}
	if p.cfg.Super != nil {
		// A superuser request that fails leaves the client an ordinary user, as EMQX does.
		if so, _ := p.do(ctx, p.cfg.Super, x); so == allow || so == ignore {
			r.Superuser = true
		}
	}
	return r
}

type authorizer struct{ p *Plugin }

func (authorizer) Name() string { return Name }

// Authorize implements engine.Authorizer. Clients whose user name starts with '$' (EMQX's
// internal clients) are ignored. A backend that does not answer denies: EMQX ignores then,
// which with acl_nomatch = allow would open every topic during an outage.
func (a authorizer) Authorize(ctx context.Context, c *engine.ClientInfo, access acl.Access, topic string) engine.AuthDecision {
	p := a.p
	if strings.HasPrefix(c.Username, "$") {
		return engine.AuthIgnore
	}
	o, _ := p.do(ctx, p.cfg.ACL, &vars{c: c, access: access, topic: topic, hasACL: true})
	switch o {
	case allow:
		return engine.AuthAllow
	case ignore:
		return engine.AuthIgnore
	}
	return engine.AuthDeny
}

var (
	_ engine.AsyncAuthenticator = authenticator{}
	_ engine.Authorizer         = authorizer{}
)
