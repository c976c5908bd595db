package engine

import (
	"context"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Asynchronous links of the authentication chain. A CONNECT that needs the chain normally
// takes one goroutine of the side pool for the whole chain, which blocks on each backend in
// turn: a connect storm of thousands of clients then wakes thousands of goroutines, several
// times each (submit, wait for a backend connection, wait for its answer), and the event loops
// wait for a Go P behind them. A link that implements AsyncAuthenticator instead queues the
// client with its plugin, whose few workers (AuthWorkers: one per backend connection) answer
// through a callback; the answer goes to the CONNECT's loop in the same batches as before
// (authanswers.go). A chain whose first link is asynchronous runs this way (connectAsync); its
// synchronous links, if any, still run on the side pool, one submit each.

// AsyncAuthenticator is an Authenticator that can also answer through a callback, without a
// goroutine of the caller's waiting for it. Implementations must be safe for concurrent use.
type AsyncAuthenticator interface {
	Authenticator
	// AuthenticateAsync starts checking c and returns without blocking: it is called on an
	// event loop. done is called exactly once with the answer, from any goroutine (possibly
	// before AuthenticateAsync returns, e.g. to refuse when the plugin is closed); a check
	// still unanswered at deadline answers a refusal. c belongs to the call until done.
	AuthenticateAsync(deadline time.Time, c *ClientInfo, done func(AuthResult))
}

// asyncAuth is one CONNECT going through an asynchronous chain: link i is asked next. Only
// one link works on it at a time, so its fields need no lock.
type asyncAuth struct {
	n           *Node
	l           *loop
	c           *conn
	z           *Zone
	info        *ClientInfo
	hasUsername bool
	req         connectRequest
	chain       []Authenticator
	i           int
	deadline    time.Time
	began       int64 // wallNanos
}

// connectAsync starts the authentication of a parked CONNECT (c in stateAuth) when the chain's
// first link is asynchronous, and reports whether it did; the answer comes back to l through
// pushAnswer as from the side pool. Called on l.
func (n *Node) connectAsync(l *loop, c *conn, z *Zone, info *ClientInfo, hasUsername bool, req connectRequest) bool {
	chain := n.authChain()
	if len(chain) == 0 {
		return false
	}
	if _, ok := chain[0].(AsyncAuthenticator); !ok {
		return false
	}
	r := &asyncAuth{n: n, l: l, c: c, z: z, info: info, hasUsername: hasUsername, req: req,
		chain: chain, deadline: time.Now().Add(AuthTimeout), began: wallNanos()}
	r.ask()
	return true
}

// ask asks link i: directly when it is asynchronous, on the side pool otherwise.
func (r *asyncAuth) ask() {
	a := r.chain[r.i]
	if aa, ok := a.(AsyncAuthenticator); ok {
		aa.AuthenticateAsync(r.deadline, r.info, r.answer)
		return
	}
	if err := r.n.pool.Submit(func() {
		ctx, cancel := context.WithDeadline(context.Background(), r.deadline)
		res := a.Authenticate(ctx, r.info)
		cancel()
		r.answer(res)
	}); err != nil {
		r.finish(AuthResult{Decision: AuthDeny, Code: codec.ServerBusy, Reason: "authentication backlog full"})
	}
}

// answer is link i's answer: the chain's decision, or the next link (runAuth's rules).
func (r *asyncAuth) answer(res AuthResult) {
	switch res.Decision {
	case AuthAllow:
		r.finish(res)
		return
	case AuthDeny:
		r.finish(r.n.denied(r.chain[r.i], r.info, res))
		return
	}
	r.i++
	switch {
	case time.Now().After(r.deadline):
		r.finish(authTimedOut)
	case r.i == len(r.chain):
		r.finish(r.n.anonymous(r.z, r.hasUsername))
	default:
		r.ask()
	}
}

// finish hands the chain's decision to the CONNECT's loop.
func (r *asyncAuth) finish(res AuthResult) {
	r.req.result = res
	r.req.authTook = max(wallNanos()-r.began, 1)
	if !r.l.pushAnswer(authAnswer{c: r.c, req: r.req}) { // completed on the loop, authanswers.go
		r.n.log.Debug("authentication answer dropped: engine stopping", "client", r.req.clientID)
	}
}
