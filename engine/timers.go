package engine

import (
	"container/heap"
	"slices"
	"sync"
	"time"

	"github.com/emqgo/emqgo/sessions"
)

// timers fires session deadlines off the event loops: delayed wills (MQTT 5 Will Delay
// Interval) and the expiry of offline sessions. Entries are hints: when one fires, the
// session's own fields decide what is due, so a reconnect or a changed deadline needs no
// cancellation.
type timers struct {
	n    *Node
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
}

type timerEntry struct {
	at int64 // unix nanoseconds
	s  *sessions.Session
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = timerEntry{}
	*h = old[:len(old)-1]
	return e
}

func newTimers(n *Node) *timers {
	return &timers{n: n, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (t *timers) start() {
	t.wg.Add(1)
	go t.run()
}

func (t *timers) stop() {
	select {
	case <-t.quit:
	default:
		close(t.quit)
	}
	t.wg.Wait()
}

// add schedules a check of s at unix-nanosecond time at. Safe from any goroutine, including
// with s locked.
func (t *timers) add(at int64, s *sessions.Session) {
	t.mu.Lock()
	heap.Push(&t.h, timerEntry{at, s})
	first := t.h[0].s == s && t.h[0].at == at
	t.mu.Unlock()
	if first {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

func (t *timers) run() {
	defer t.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now().UnixNano()
		var due []*sessions.Session
		t.mu.Lock()
		for len(t.h) > 0 && t.h[0].at <= now {
			due = append(due, heap.Pop(&t.h).(timerEntry).s)
		}
		if len(due) > 0 && cap(t.h) > 256 && len(t.h) < cap(t.h)/4 {
			t.h = slices.Clone(t.h) // a churn's expiries are over: its capacity goes
		}
		next := time.Hour
		if len(t.h) > 0 {
			next = time.Duration(t.h[0].at - now)
		}
		t.mu.Unlock()
		for _, s := range due {
			t.fire(s, now)
		}
		timer.Reset(next)
		select {
		case <-t.quit:
			return
		case <-t.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// fire does whatever is due for s at now.
func (t *timers) fire(s *sessions.Session, now int64) {
	n := t.n
	s.Lock()
	if s.Owner != nil || s.Gone {
		s.Unlock()
		return
	}
	var will *sessions.Message
	if s.DelayedWill != nil && s.WillAt <= now {
		will, s.DelayedWill = s.DelayedWill, nil
	}
	expired := s.ExpiresAt != 0 && s.ExpiresAt <= now
	if expired && s.DelayedWill != nil {
		// The session ends before the will delay: the will goes now [MQTT-3.1.3-9].
		will, s.DelayedWill = s.DelayedWill, nil
	}
	if will != nil && !expired {
		n.saveState(s)
	}
	s.Unlock()
	if will != nil {
		n.stats.willsSent.Add(1)
		n.publishWill(nil, will, s)
	}
	if expired {
		n.stats.sessionsExpired.Add(1)
		n.log.Info("session expired", "client", s.ClientID)
		n.endSession(s, "expired")
	}
}
