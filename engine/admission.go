package engine

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Admission of new connections, per listener (listener.<kind>.<name>.*):
//
//   - access.N rules ("allow all", "deny 192.168.0.0/24"), checked in order at accept time: the
//     first rule that matches the peer's address decides; when none matches the connection is
//     allowed, as EMQX's acceptor does.
//   - max_connections: past it a new connection is closed at once.
//   - max_conn_rate: connections over the rate are not refused. EMQX's acceptor stops
//     accepting for the rest of the interval and lets them wait in the listen backlog; gnet
//     accepts on every loop and cannot pause a listener, so here the connection is accepted
//     and its CONNECT waits unread (its socket's input stays buffered) until the loop releases
//     it at the rate. The client sees the same thing: a CONNACK that comes later. A waiting
//     connection holds a file descriptor, which max_connections bounds.
//
// Refusals and delays are logged as one summarising line per listener and interval, never one
// line per connection: a reconnect storm must not turn into a storm of log lines.

// AccessRule is one listener access rule: allow or deny All addresses, or those in Prefix.
type AccessRule struct {
	Allow  bool
	All    bool
	Prefix netip.Prefix
}

// admits applies the listener's access rules to a peer address.
func (ls *listenerState) admits(a netip.Addr) bool {
	for _, r := range ls.Access {
		if r.All || r.Prefix.Contains(a) {
			return r.Allow
		}
	}
	return true
}

// connBucket is a token bucket of new connections per second, shared by the loops that accept
// for one listener. It holds at most one second's worth of tokens.
type connBucket struct {
	tokens atomic.Int64 // available tokens × tokenScale
	last   atomic.Int64 // unix nanoseconds of the last refill
}

// take takes one token at unix-nanosecond time now if one is available.
func (b *connBucket) take(perSecond int, now int64) bool {
	b.refill(perSecond, now)
	for {
		t := b.tokens.Load()
		if t < tokenScale {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-tokenScale) {
			return true
		}
	}
}

// tokenScale keeps fractions of a token, so that short intervals refill exactly.
const tokenScale = 1 << 16

func (b *connBucket) refill(perSecond int, now int64) {
	last := b.last.Load()
	if last == 0 {
		if b.last.CompareAndSwap(0, now) {
			b.tokens.Store(int64(perSecond) * tokenScale) // a full bucket at start
		}
		return
	}
	elapsed := now - last
	if elapsed <= 0 || !b.last.CompareAndSwap(last, now) {
		return
	}
	add := elapsed * int64(perSecond) * tokenScale / int64(time.Second)
	limit := int64(perSecond) * tokenScale
	for {
		t := b.tokens.Load()
		n := min(t+add, limit)
		if b.tokens.CompareAndSwap(t, n) {
			return
		}
	}
}

// admissionLog counts what a listener refused or delayed since the last summary, with one
// example peer, so that the summary can name a client.
type admissionLog struct {
	denied    atomic.Uint64         // access rules
	full      atomic.Uint64         // max_connections
	delayed   atomic.Uint64         // max_conn_rate
	proxy     atomic.Uint64         // no valid PROXY protocol header in time (proxy.go)
	stopped   atomic.Uint64         // listener stopped by emqx_ctl (listeners.go)
	proxyWhy  atomic.Pointer[error] // one cause of the proxy refusals
	example   atomic.Pointer[netip.AddrPort]
	lastFlush atomic.Int64
}

func (a *admissionLog) note(counter *atomic.Uint64, peer netip.AddrPort) {
	if counter.Add(1) == 1 {
		a.example.Store(&peer)
	}
}

// admissionSummaryInterval is how often refusals and delays are summarised in the log.
const admissionSummaryInterval = 10 * time.Second

// summariseAdmissions logs, for each listener that refused or delayed connections since the
// last summary, one warning line with the counts. Called from the ticker goroutine.
func (n *Node) summariseAdmissions(now int64) {
	for _, ls := range n.byAddr {
		a := &ls.admLog
		last := a.lastFlush.Load()
		if now-last < int64(admissionSummaryInterval) || !a.lastFlush.CompareAndSwap(last, now) {
			continue
		}
		denied, full, delayed := a.denied.Swap(0), a.full.Swap(0), a.delayed.Swap(0)
		proxy, stopped := a.proxy.Swap(0), a.stopped.Swap(0)
		if denied+full+delayed+proxy+stopped == 0 {
			continue
		}
		proxyWhy := ""
		if p := a.proxyWhy.Swap(nil); p != nil {
			proxyWhy = (*p).Error()
		}
		example := ""
		if p := a.example.Swap(nil); p != nil {
			example = p.String()
		}
		since := "since start"
		if last != 0 {
			since = "in the last " + time.Duration(now-last).Round(time.Second).String()
		}
		n.log.Warn("listener admission "+since, "listener", ls.Kind+":"+ls.Name,
			"denied_by_access_rules", denied, "refused_at_max_connections", full, "max_connections", ls.MaxConnections,
			"delayed_over_max_conn_rate", delayed, "max_conn_rate", ls.MaxConnRate,
			"refused_proxy_protocol", proxy, "proxy_protocol_error", proxyWhy, "refused_listener_stopped", stopped, "example_peer", example)
	}
}

// releaseWaiting lets connections that wait for the listener's rate read their CONNECT, in
// the order they arrived, as far as the rate allows. Runs on the loop (its sweep).
func (l *loop) releaseWaiting() {
	if len(l.waiting) == 0 {
		return
	}
	now := l.now
	k := 0
	for ; k < len(l.waiting); k++ {
		c := l.waiting[k]
		if c.state != stateWaiting {
			continue // closed meanwhile
		}
		if !c.lis.bucket.take(c.lis.MaxConnRate, now) {
			break
		}
		c.state = stateNew
		if c.lis.ProxyProtocol && c.lis.TLS == nil {
			c.state = stateProxy // proxy_protocol_timeout counts from here
		}
		c.lastRecv = now // idle_timeout counts from here
		c.onTraffic()    // the CONNECT that waited, if it came
	}
	rest := copy(l.waiting, l.waiting[k:])
	clear(l.waiting[rest:])
	l.waiting = l.waiting[:rest]
}
