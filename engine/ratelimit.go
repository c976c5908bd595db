package engine

import (
	"strconv"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Rate limits on a connection's input (zone.<z>.publish_limit,
// zone.<z>.rate_limit.conn_messages_in and conn_bytes_in, listener.<kind>.<name>.rate_limit).
//
// Each limit is a token bucket per connection, full when the connection opens, refilled at the
// configured rate and holding at most one period's worth (the listener's old "rate,burst" form
// sets its size). A packet is handled only when every bucket it draws from holds its cost (one
// message, or its size in bytes; a packet larger than a whole bucket waits for a full one and
// leaves the bucket in debt). Otherwise the connection is throttled: its input is parked at
// that packet, unread, exactly as while an access decision is pending (conn.reading), and the
// loop's sweep releases it once the buckets hold enough (releaseThrottled, every sweep slice:
// a tenth of the sweep interval). Throttling never disconnects and is counted per limit
// (connections.throttled.<limit>). Output to a throttled connection is not held back.
//
// The parked input is bounded, and so is a throttled connection's (conn.boundParked: one
// packet of the zone's maximum size, at least 64 KiB). EMQX stops reading the socket, so TCP
// backpressure reaches the client and blocks its sender. gnet offers no way to stop polling one
// socket: it keeps reading into the connection's buffer, and we can only stop consuming. A
// client that keeps sending far beyond its limit therefore fills that buffer, and at the bound
// it is closed (MQTT 5: DISCONNECT 0x97), counted in connections.throttled.closed. This bound
// was kept rather than raised for throttled connections because
//   - a rate-limited connection must not be able to pin more memory than an unlimited one
//     (whose input is consumed at once) or one waiting for its authenticator;
//   - a client at QoS 1 or 2 never reaches it: its publishes are not acknowledged while they
//     wait, so it stops at its in-flight window, which is the backpressure MQTT itself has;
//   - what reaches it is a QoS 0 stream sustained above the limit for long enough to queue
//     64 KiB (over a thousand small messages) beyond it, i.e. a client that honours no
//     backpressure at all, which EMQX would have stalled in the kernel's buffers instead.

// Rate is a limit of Limit units (messages or bytes) per Per. The zero Rate means no limit.
// Burst, when positive, is the bucket's size (the listener's old "rate,burst" form); otherwise
// the bucket holds Limit.
type Rate struct {
	Limit int64
	Per   time.Duration
	Burst int64
}

// IsZero reports whether r sets no limit.
func (r Rate) IsZero() bool { return r.Limit <= 0 || r.Per <= 0 }

// limitKind names one of a connection's rate limits; it indexes connLimiter.buckets and
// loopStats.Throttled.
type limitKind uint8

const (
	limitPublish       limitKind = iota // zone publish_limit: PUBLISH packets
	limitMessagesIn                     // zone rate_limit.conn_messages_in: PUBLISH packets
	limitBytesIn                        // zone rate_limit.conn_bytes_in: bytes of every packet
	limitListenerBytes                  // listener rate_limit: bytes of every packet
	limitKinds
)

// limitNames are the counters' suffixes (connections.throttled.<name>).
var limitNames = [limitKinds]string{"publish_limit", "conn_messages_in", "conn_bytes_in", "rate_limit"}

// bucket is one token bucket of a connection.
type bucket struct {
	perNano  float64 // tokens added per nanosecond; 0: this limit is not configured
	capacity float64 // most tokens held
	tokens   float64
	short    float64 // tokens the packet the connection stopped at needs from this bucket; 0: none
}

// connLimiter is the rate-limit state of one connection, nil when its listener and zone set no
// limit. It belongs to the connection's loop.
type connLimiter struct {
	last    int64 // unix nanoseconds of the last refill
	buckets [limitKinds]bucket
}

// newConnLimiter returns the limiter for a new connection of ls opened at unix-nanosecond
// time now, or nil when no limit applies (the common case costs the connection nothing).
func newConnLimiter(ls *listenerState, now int64) *connLimiter {
	rates := [limitKinds]Rate{ls.Zone.PublishLimit, ls.Zone.ConnMessagesIn, ls.Zone.ConnBytesIn, ls.RateLimit}
	var cl *connLimiter
	for k, r := range rates {
		if r.IsZero() {
			continue
		}
		if cl == nil {
			cl = &connLimiter{last: now}
		}
		capacity := float64(r.Limit)
		if r.Burst > 0 {
			capacity = float64(r.Burst)
		}
		cl.buckets[k] = bucket{perNano: float64(r.Limit) / float64(r.Per), capacity: capacity, tokens: capacity}
	}
	return cl
}

// cost is what a packet of type t and size bytes draws from bucket k.
func (k limitKind) cost(t codec.PacketType, size int) float64 {
	if k >= limitBytesIn {
		return float64(size)
	}
	if t == codec.TypePublish {
		return 1
	}
	return 0
}

// refill adds the tokens earned since the last refill.
func (cl *connLimiter) refill(now int64) {
	elapsed := now - cl.last
	if elapsed <= 0 {
		return
	}
	cl.last = now
	for k := range cl.buckets {
		b := &cl.buckets[k]
		if b.perNano > 0 {
			b.tokens = min(b.tokens+float64(elapsed)*b.perNano, b.capacity)
		}
	}
}

// take draws a packet's cost from every bucket when each holds enough, and returns -1.
// Otherwise it draws nothing, notes what each short bucket needs, and returns the first limit
// that stops the packet.
func (cl *connLimiter) take(t codec.PacketType, size int, now int64) int {
	cl.refill(now)
	over := -1
	for k := range cl.buckets {
		b := &cl.buckets[k]
		if b.perNano == 0 {
			continue
		}
		if need := min(limitKind(k).cost(t, size), b.capacity); need > 0 && b.tokens < need {
			b.short = need
			if over < 0 {
				over = k
			}
		}
	}
	if over >= 0 {
		return over
	}
	for k := range cl.buckets {
		if b := &cl.buckets[k]; b.perNano > 0 {
			b.tokens -= limitKind(k).cost(t, size)
		}
	}
	return -1
}

// refund gives back what take drew for a packet that is handled again later (parked for the
// access-control chain), so that it is not charged twice.
func (cl *connLimiter) refund(t codec.PacketType, size int) {
	for k := range cl.buckets {
		if b := &cl.buckets[k]; b.perNano > 0 {
			b.tokens += limitKind(k).cost(t, size)
		}
	}
}

// ready reports whether every bucket that stopped the connection now holds what the waiting
// packet needs, and forgets those needs if so.
func (cl *connLimiter) ready(now int64) bool {
	cl.refill(now)
	for k := range cl.buckets {
		if b := &cl.buckets[k]; b.short > 0 && b.tokens < b.short {
			return false
		}
	}
	for k := range cl.buckets {
		cl.buckets[k].short = 0
	}
	return true
}

// admitLimited charges a packet of type t and size bytes to c's rate limits (c.limit is not
// nil) and reports whether it may be handled now. When it may not, the connection is throttled:
// its input stays parked at that packet until releaseThrottled resumes it.
func (c *conn) admitLimited(t codec.PacketType, size int) bool {
	k := c.limit.take(t, size, c.loop.now)
	if k < 0 {
		return true
	}
	c.set(flagThrottled)
	c.loop.throttled = append(c.loop.throttled, c)
	c.loop.stats.Throttled[k]++
	return false
}

// throttledBoundMessage says why a throttled connection whose parked input passed the bound is
// closed (see the comment at the top of this file).
func (c *conn) throttledBoundMessage() string {
	return "input sent while throttled by a rate limit exceeds " + strconv.Itoa(c.parkedInputLimit()) + " bytes"
}

// releaseThrottled resumes the throttled connections whose limits allow their next packet,
// in the order they were throttled. Runs on the loop, at every sweep slice.
func (l *loop) releaseThrottled() {
	list := l.throttled
	l.throttled = l.spareThrottled[:0] // resuming may throttle connections again
	for i, c := range list {
		list[i] = nil
		if !c.has(flagThrottled) {
			continue
		}
		if c.state >= stateClosing {
			c.unset(flagThrottled)
			continue
		}
		if !c.limit.ready(l.now) {
			if c.state == stateConnected {
				// Its packets are waiting: the client is not idle (keep alive).
				c.lastRecv = l.now
			}
			l.throttled = append(l.throttled, c)
			continue
		}
		c.unset(flagThrottled)
		c.onTraffic() // the input that waited
	}
	l.spareThrottled = list[:0]
}
