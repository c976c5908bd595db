package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A load profile: how heavy the churn's message traffic is. Both keep every fault kind
// (takeovers, persistent sessions, slow consumers, malformed packets, dropped sockets, kills)
// and the same client slots; they differ in fan-out and publish rate.
//
// The loop-lag bound is about loops not waiting (disk, backend, locks). On a machine with no
// idle CPU a loop's lag is its queueing for a core, whatever the broker does, so the default
// profile leaves the 2-core test box headroom with the load generator on it, and "overload"
// (the first soak's load, which saturates that box) does not apply the bound.
type profile struct {
	name string
	// wildShare: one session in wildShare subscribes to churn/+/<k> (k of 20: a twentieth of
	// every room's messages); the others to their room, churn/<r>/#.
	wildShare int
	// slowMax bounds the slow consumers (subscribed to churn/#, not reading) at any moment;
	// an episode finding them all taken is an ordinary session. 0: no bound.
	slowMax int
	// pubRate bounds the churn's publishes per second, all slots together. 0: no bound.
	pubRate int
	// stayMin and stayMax bound how long an ordinary session stays connected: with the slots,
	// they set the connection churn (connects per second) and the connections held.
	stayMin, stayMax time.Duration
	// checkLag applies -lag-p99 to the churn's loop-lag samples.
	checkLag bool
	about    string
}

var profiles = map[string]profile{
	// default: 2–20 s sessions make about 300 connects/s with 3,000 slots, under 5 % of the
	// broker's CPU in a profile; two thirds of it is write(2) of deliveries, so the publish
	// rate sets the load: 1,000/s cost 65–85 % of a core on the 2-core box, 600/s 34 %;
	// 800/s is meant for 50–60 %.
	"default": {name: "default", wildShare: 10, slowMax: 8, pubRate: 800, stayMin: 2 * time.Second, stayMax: 20 * time.Second, checkLag: true,
		about: "sessions stay 2–20 s, 1 in 10 on churn/+/<k>, at most 8 slow consumers on churn/# at once, 800 publishes/s in all"},
	"overload": {name: "overload", wildShare: 3, slowMax: 0, pubRate: 0, stayMin: 500 * time.Millisecond, stayMax: 5 * time.Second, checkLag: false,
		about: "sessions stay 0.5–5 s, 1 in 3 on churn/+/<k>, every slow-consumer episode on churn/#, publishes unbounded: saturates a 2-core box, loop lag not checked"},
}

func profileNamed(name string) (profile, error) {
	p, ok := profiles[name]
	if !ok {
		return profile{}, fmt.Errorf("unknown -profile %q (default or overload)", name)
	}
	return p, nil
}

// pacer bounds the churn's publishes, all slots together, to rate per second with a burst
// of a tenth of a second's worth: a slot finding no token skips that publish (counted) and
// goes on with its life. Safe for concurrent use.
type pacer struct {
	rate   float64 // tokens per second; 0: no bound
	burst  float64
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newPacer(rate int) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	b := max(float64(rate)/10, 1)
	return &pacer{rate: float64(rate), burst: b, tokens: b, last: time.Now()}
}

// allow takes a token when there is one.
func (p *pacer) allow() bool {
	if p.rate == 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	p.last = now
	if p.tokens < 1 {
		return false
	}
	p.tokens--
	return true
}

// slots bounds how many of something run at once (0: no bound). Safe for concurrent use.
type slots struct {
	max int64
	n   atomic.Int64
}

// take returns false when all slots are taken; true means release must follow.
func (s *slots) take() bool {
	if s.max == 0 {
		return true
	}
	if s.n.Add(1) > s.max {
		s.n.Add(-1)
		return false
	}
	return true
}

func (s *slots) release() {
	if s.max != 0 {
		s.n.Add(-1)
	}
}
