package engine

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Answers of the authentication chain come back to a connection's loop in batches, and a loop
// completes at most authAnswersPerRound CONNECTs per round. A backend that stalls and then
// recovers (or a storm of clients that all need it) can release thousands of parked CONNECTs
// within a millisecond; completing them all in one go (attach the session, write the CONNACK,
// run the hooks: tens of microseconds each) would keep the loop from reading its established
// connections for a large part of a second. A round that leaves answers waiting hands the rest
// to a timer rather than to the loop's task queue directly: gnet runs every task queued during
// its drain of that queue before it polls the sockets again, so a task that re-queued itself
// would run at once; a task queued by the timer's goroutine comes after the loop has read its
// sockets once more.

// authAnswersPerRound bounds the CONNECTs a loop completes in one round of answers.
const authAnswersPerRound = 64

// authAnswersYield is how long a loop with answers left waits before its next round of them.
const authAnswersYield = 200 * time.Microsecond

// authAnswer is one authentication chain's answer for a parked CONNECT.
type authAnswer struct {
	c   *conn
	req connectRequest
}

// authAnswers is a loop's queue of answers. The mutex guards queue and scheduled (the side
// pool's goroutines push, the loop takes); work and task belong to the loop.
type authAnswers struct {
	mu        sync.Mutex
	queue     []authAnswer
	scheduled bool // a task (or the timer that queues one) is pending

	work []authAnswer  // the answers being completed, loop-owned
	task gnet.Runnable // completeAnswers, created with the loop
}

// pushAnswer hands an answer to c's loop: queued, and one task scheduled for the batch. Safe
// from any goroutine. It reports false when the engine is stopping (the answer is dropped).
func (l *loop) pushAnswer(a authAnswer) bool {
	q := &l.answers
	q.mu.Lock()
	q.queue = append(q.queue, a)
	schedule := !q.scheduled
	q.scheduled = true
	q.mu.Unlock()
	if !schedule {
		return true
	}
	return l.scheduleAnswers()
}

func (l *loop) scheduleAnswers() bool {
	q := &l.answers
	if err := l.el.Execute(context.Background(), q.task); err != nil {
		q.mu.Lock()
		q.queue, q.scheduled = nil, false
		q.mu.Unlock()
		return false
	}
	return true
}

// takeAnswers moves at most max queued answers to q.work (in arrival order) and reports
// whether more are left in the queue; with none left the batch is no longer scheduled.
func (q *authAnswers) takeAnswers(max int) (more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(len(q.queue), max)
	q.work = append(q.work[:0], q.queue[:k]...)
	rest := copy(q.queue, q.queue[k:])
	clear(q.queue[rest:])
	q.queue = q.queue[:rest]
	if rest == 0 {
		q.scheduled = false
		q.queue = shrunk(q.queue)
	}
	return rest > 0
}

// completeAnswers is the loop's task: it completes one round of answers and, when some are
// left, schedules the next round through a timer (see the top of this file).
func (l *loop) completeAnswers() {
	q := &l.answers
	more := q.takeAnswers(authAnswersPerRound)
	for i := range q.work {
		a := &q.work[i]
		c := a.c
		if c.state != stateAuth {
			continue // closed while waiting (idle timeout or shutdown)
		}
		l.begin()
		if a.req.authTook > 0 {
			l.stats.AuthTime.observe(a.req.authTook)
		}
		c.state = stateNew
		c.completeConnect(&a.req)
		l.end()
		if c.state == stateConnected {
			l.begin()
			c.onTraffic() // packets that arrived while the CONNECT was parked
			l.end()
		}
	}
	clear(q.work)
	q.work = shrunk(q.work)
	if more {
		time.AfterFunc(authAnswersYield, func() { l.scheduleAnswers() })
	}
}
