package engine

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FlappingPolicy is flapping_detect_policy: a client id that connects more than Threshold
// times within Window is banned for Ban. A zero Threshold or Window turns detection off.
type FlappingPolicy struct {
	Threshold int
	Window    time.Duration
	Ban       time.Duration
}

// flapState counts the CONNECTs of each client id of the zones with enable_flapping_detect.
// One map for every loop: a client that reconnects may land on any loop. The lock is held
// only to count.
type flapState struct {
	mu        sync.Mutex
	m         map[string]*flapEntry
	lastSweep int64
	bans      atomic.Uint64 // bans made by flapping detection
}

type flapEntry struct {
	start int64 // unix nanoseconds: the first CONNECT of the current window
	count int
}

// FlappingBans is the number of bans flapping detection has made.
func (n *Node) FlappingBans() uint64 { return n.flap.bans.Load() }

// flapping counts c's CONNECT and, when its client id passed the threshold within the
// window, bans it for the policy's ban time (logged once per ban) and reports true. On the
// loop.
func (n *Node) flapping(c *conn) bool {
	p := n.cfg.Flapping
	if zp := c.lis.Zone.Flapping; zp.Threshold > 0 {
		p.Threshold, p.Window = zp.Threshold, zp.Window
	}
	if zp := c.lis.Zone.Flapping; zp.Ban > 0 {
		p.Ban = zp.Ban
	}
	if p.Threshold <= 0 || p.Window <= 0 {
		return false
	}
	now, window := c.loop.now, int64(p.Window)
	f := &n.flap
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[string]*flapEntry)
	}
	if now-f.lastSweep > window {
		for id, e := range f.m {
			if now-e.start > window {
				delete(f.m, id)
			}
		}
		f.lastSweep = now
	}
	e := f.m[c.clientID]
	if e == nil || now-e.start > window {
		e = &flapEntry{start: now}
		f.m[c.clientID] = e
	}
	e.count++
	over := e.count > p.Threshold
	if over {
		delete(f.m, c.clientID)
	}
	f.mu.Unlock()
	if !over {
		return false
	}
	at := time.Unix(0, now)
	reason := "connected more than " + strconv.Itoa(p.Threshold) + " times within " + p.Window.String()
	n.AddBan(Ban{Kind: BanClientID, Value: c.clientID, By: "flapping_detect", Reason: reason, At: at, Until: at.Add(p.Ban)})
	f.bans.Add(1)
	n.log.Warn("client banned for flapping", "client", c.clientID, "peer", c.remote().String(), "reason", reason, "until", at.Add(p.Ban).Format(time.RFC3339))
	return true
}
