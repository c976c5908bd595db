package engine

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// AuthWorkers makes a blocking Authenticator asynchronous (AsyncAuthenticator.AuthenticateAsync)
// with a fixed number of goroutines: a plugin's backend serves a few requests at a time (its
// connection pool), so a few workers that each take the next queued client keep it as busy
// as thousands of goroutines waiting for a connection would, without waking them. Checks wait
// in arrival order; one still queued at its deadline is refused without asking the backend.
// Safe for concurrent use; the workers start with the first check and stop once closed and
// drained.
type AuthWorkers struct {
	a       Authenticator
	workers int

	mu      sync.Mutex
	ready   sync.Cond // signalled when a check is queued or the workers must stop
	queue   []authJob // queue[head:] wait, oldest first
	head    int
	started bool
	closed  bool
}

// Authentication storms. Clients waiting for a plugin's workers (all of them busy with the
// backend) are counted across plugins; the engine/service/procboost service gives the Go
// runtime more processors while they queue (the workers would otherwise keep the event loops
// waiting for one).
var (
	authWaiting atomic.Int64             // checks queued in every AuthWorkers, not yet taken by a worker
	authStorm   = make(chan struct{}, 1) // receives when a plugin's queue reaches authStormQueue
)

// authStormQueue is the number of clients waiting in one plugin's queue from which a storm is
// signalled: a few clients waiting now and then for a busy pool are no storm.
const authStormQueue = 8

// AuthStorm returns the channel that receives (at most one pending value) each time a plugin's
// queue of waiting clients grows to authStormQueue: its backend's pool is busy and clients
// queue for it.
func AuthStorm() <-chan struct{} { return authStorm }

// AuthWaiting returns the number of clients queued for the workers of every plugin and not
// yet taken by one.
func AuthWaiting() int64 { return authWaiting.Load() }

// authJob is one queued check.
type authJob struct {
	deadline time.Time
	c        *ClientInfo
	done     func(AuthResult)
}

// authWorkersShrink is the queue capacity kept once it empties; a larger backing array (a
// past storm's) is released.
const authWorkersShrink = 1024

// NewAuthWorkers returns workers (at least 1) goroutines asking a, a blocking Authenticator
// safe for concurrent use.
func NewAuthWorkers(a Authenticator, workers int) *AuthWorkers {
	w := &AuthWorkers{a: a, workers: max(workers, 1)}
	w.ready.L = &w.mu
	return w
}

// AuthenticateAsync queues c and returns at once; a worker calls a.Authenticate with deadline
// and then done. After Close, done is called at once with a refusal (server unavailable).
func (w *AuthWorkers) AuthenticateAsync(deadline time.Time, c *ClientInfo, done func(AuthResult)) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		done(AuthResult{Decision: AuthDeny, Code: codec.ServerUnavailable, Reason: w.a.Name() + " is stopping"})
		return
	}
	if !w.started {
		w.started = true
		for range w.workers {
			go w.work()
		}
	}
	w.queue = append(w.queue, authJob{deadline: deadline, c: c, done: done})
	waiting := len(w.queue) - w.head
	authWaiting.Add(1) // under the lock: a worker's Add(-1) for this job comes after it
	w.mu.Unlock()
	w.ready.Signal()
	if waiting == authStormQueue {
		select {
		case authStorm <- struct{}{}:
		default:
		}
	}
}

// Close refuses the checks that come after it (server unavailable); the workers still answer
// those already queued (each by its deadline: a plugin reloaded during a storm does not turn
// its queue into refusals), then stop. Safe to call more than once.
func (w *AuthWorkers) Close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.ready.Broadcast()
}

// work is one worker: it answers the queued checks in order until Close has been called and
// none is left.
func (w *AuthWorkers) work() {
	w.mu.Lock()
	for {
		for w.head == len(w.queue) && !w.closed {
			w.ready.Wait()
		}
		if w.head == len(w.queue) { // closed, and nothing left
			w.mu.Unlock()
			return
		}
		j := w.queue[w.head]
		w.queue[w.head] = authJob{}
		w.head++
		if w.head == len(w.queue) {
			w.queue, w.head = w.queue[:0], 0
			if cap(w.queue) > authWorkersShrink {
				w.queue = nil
			}
		}
		authWaiting.Add(-1)
		w.mu.Unlock()
		j.done(w.check(j))
		// Yield between the answer and the next request. The backend's answers wake many
		// workers at once (the netpoller readies them onto one processor's run queue), and
		// an event loop that yields at the end of its round (gnet does) waits in the
		// global queue behind all of them: ~20 µs each (read the answer, write the next
		// request, read again) made a storm's loops wait up to a millisecond. A worker
		// that yields here goes to the global queue behind the loop, so the loop waits
		// only for the answers' halves.
		runtime.Gosched()
		w.mu.Lock()
	}
}

// check runs one queued check; a panic of the authenticator refuses the client instead of
// stopping the broker.
func (w *AuthWorkers) check(j authJob) (r AuthResult) {
	if !time.Now().Before(j.deadline) {
		return authTimedOut
	}
	defer func() {
		if v := recover(); v != nil {
			r = AuthResult{Decision: AuthDeny, Code: codec.ServerUnavailable, Reason: fmt.Sprintf("BUG: %s panicked: %v", w.a.Name(), v)}
		}
	}()
	ctx, cancel := context.WithDeadline(context.Background(), j.deadline)
	defer cancel()
	return w.a.Authenticate(ctx, j.c)
}
