package authldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// pool holds the plugin's connections, each bound as bind_dn: at most size of them, each used
// by one request at a time. A connection that failed is closed, never reused; the next request
// dials again, so the pool recovers by itself when the directory returns.
type pool struct {
	p      *Plugin
	slots  chan struct{}   // one per request running
	idle   chan *ldap.Conn // bound connections waiting for a request
	closed atomic.Bool
}

func newPool(p *Plugin, size int) *pool {
	return &pool{p: p, slots: make(chan struct{}, size), idle: make(chan *ldap.Conn, size)}
}

// errNoAnswer marks a failure to reach the directory (as opposed to an LDAP result code).
var errNoAnswer = errors.New("the ldap server did not answer")

// timeoutError is a request that got no answer in time; it is a net.Error with Timeout true,
// so that backend.IsTimeout counts it as a timeout.
type timeoutError struct{ err error }

func (e timeoutError) Error() string   { return e.err.Error() }
func (e timeoutError) Unwrap() error   { return e.err }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// do runs f on a connection bound as the plugin's account, within the plugin's timeout (and
// ctx). The directory's answers, errors included, pass through as *ldap.Error values; a
// failure to reach it (refused, reset, no answer in time) is wrapped in errNoAnswer and
// reported to the monitor, which logs and alarms the outage once.
func (p *Plugin) do(ctx context.Context, f func(c *ldap.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	p.mon.Sent()
	c, err := p.pool.get(ctx)
	if err == nil {
		c.SetTimeout(remaining(ctx))
		err = f(c)
		p.pool.put(c, err == nil || answered(err))
	}
	switch {
	case err == nil:
		p.mon.Answered()
		return nil
	case answered(err):
		if !expected(err) {
			p.mon.Refused()
		} else {
			p.mon.Answered()
		}
		return err
	}
	if ctx.Err() != nil || strings.Contains(err.Error(), "timed out") {
		err = timeoutError{err}
	}
	return p.mon.NoAnswer(fmt.Errorf("%w within %s: %w", errNoAnswer, p.cfg.Timeout, err), p.cfg.Timeout)
}

// answered reports whether err is a result code the server sent (the directory is up).
func answered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork && le.ResultCode != 0
}

// expected reports whether err is an ordinary answer: no such entry, a user name that is no
// DN value, a wrong password of a bind as the user.
func expected(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultInvalidCredentials)
}

func remaining(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

// get returns a connection for one request: an idle one, or a new one dialled and bound.
func (pl *pool) get(ctx context.Context) (*ldap.Conn, error) {
	select {
	case pl.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("all %d connections busy: %w", cap(pl.slots), ctx.Err())
	}
	for {
		select {
		case c := <-pl.idle:
			if c.IsClosing() {
				c.Close()
				continue
			}
			return c, nil
		default:
		}
		break
	}
	c, err := pl.dial(ctx)
	if err != nil {
		<-pl.slots
		return nil, err
	}
	return c, nil
}

// put gives back the connection of a finished request: kept when reuse is true and it is
// still bound as the plugin's account, closed otherwise.
func (pl *pool) put(c *ldap.Conn, reuse bool) {
	if reuse && !pl.closed.Load() && !c.IsClosing() {
		select {
		case pl.idle <- c:
		default:
			c.Close()
		}
	} else {
		c.Close()
	}
	<-pl.slots
	if pl.closed.Load() {
		pl.drain()
	}
}

// dial connects to the first server that answers and binds as bind_dn.
func (pl *pool) dial(ctx context.Context) (*ldap.Conn, error) {
	cfg := &pl.p.cfg
	deadline, _ := ctx.Deadline()
	var errs []error
	for _, u := range pl.p.urls {
		opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Deadline: deadline})}
		if cfg.TLS != nil {
			opts = append(opts, ldap.DialWithTLSConfig(cfg.TLS))
		}
		c, err := ldap.DialURL(u, opts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		c.SetTimeout(remaining(ctx))
		if err := pl.p.bindAccount(c); err != nil {
			c.Close()
			if answered(err) {
				return nil, fmt.Errorf("%s: bind as %q: %w", u, cfg.BindDN, err)
			}
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		return c, nil
	}
	return nil, errors.Join(errs...)
}

// bindAccount binds c as the plugin's account (anonymously when bind_dn is empty).
func (p *Plugin) bindAccount(c *ldap.Conn) error {
	if p.cfg.BindDN == "" {
		return c.UnauthenticatedBind("")
	}
	return c.Bind(p.cfg.BindDN, p.cfg.BindPassword)
}

// close closes the idle connections now and those in use when their requests end.
func (pl *pool) close() {
	pl.closed.Store(true)
	pl.drain()
}

func (pl *pool) drain() {
	for {
		select {
		case c := <-pl.idle:
			c.Close()
		default:
			return
		}
	}
}
