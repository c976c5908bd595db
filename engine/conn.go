package engine

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/sessions"
)

// A gnet connection is the TCP transport as it is.
var _ transport.Conn = gnet.Conn(nil)

type connState uint8

const (
	stateNew       connState = iota // socket open, no CONNECT yet
	stateWaiting                    // accepted over the listener's max_conn_rate: input not read yet
	stateProxy                      // before stateNew on a proxy_protocol listener: PROXY header not read yet (proxy.go)
	stateAuth                       // CONNECT parked while an authenticator decides
	stateConnected                  // CONNACK 0 sent
	stateClosing                    // close requested; input is ignored
	stateClosed                     // the socket is gone (onClose ran): late answers are dropped
)

// conn is one MQTT connection. It belongs to its loop: only that loop's goroutine reads or
// writes its fields, except sess, which is also reachable through the session (whose lock
// guards the attachment).
type conn struct {
	tr   transport.Conn // the byte stream: a gnet TCP connection, or a framing/TLS transport
	loop *loop
	lis  *listenerState
	sess *sessions.Session

	clientID string
	username string
	peer     netip.Addr // remote address, for ACL rules and logs
	port     uint16     // remote port, for logs and authenticators

	// lastRecv is the unix-nanosecond time of the last complete packet; before CONNECT is
	// handled it stays the time the connection opened (idle_timeout).
	lastRecv    int64
	connectedAt int64        // when CONNECT was accepted (unix ns, Node.connectClock: never repeats), for hooks and manage.go
	ext         *connExt     // state few connections need, nil until one does (extra)
	limit       *connLimiter // rate limits on input (ratelimit.go), nil when none apply
	will        *connWill    // the will, nil when none
	cnt         ConnCounters // traffic counters (conncounters.go)

	out       []byte // output of the current round, written by flush
	iov       *iovec // payloads referenced by out this round, nil when none
	slowSince int64  // unix nanoseconds when the backlog first went above HighWater

	slot  int32 // index in loop.conns, -1 when not registered
	need  int32 // bytes the packet being received needs in all, when its header is known
	carry int32 // input bytes gnet kept from the last round, in its ring buffer (onTraffic)
	held  int32 // acknowledgements waiting for the durable store (ackDurable)

	// MQTT 5 limits announced by the client. (Its Topic Alias Maximum sizes the outbound
	// alias table, ext.outAlias: outalias.go.)
	clientMaxPacket uint32 // 0: protocol maximum
	clientRecvMax   uint16
	keepAlive       uint16

	state     connState
	version   codec.Version
	flags     connFlags
	closeCode codec.ReasonCode // reason a close was requested for, for the log (the cause is logged by closeWith)
}

// connExt holds what only some connections need, so that an idle one does not carry it.
type connExt struct {
	aliases  map[uint16][]byte // inbound topic aliases, values owned
	acl      aclCache          // recent publish decisions (enable_acl_cache)
	decided  []aclDecision     // answers of the access-control chain for the packets handled again
	outAlias *outAliases       // outbound topic aliases, nil when the client accepts none (outalias.go)
	held     heldQueue         // acknowledgements waiting for the durable store, in order (durable_acks.go)
}

// extra returns c's connExt, allocating it on first use.
func (c *conn) extra() *connExt {
	if c.ext == nil {
		c.ext = &connExt{}
	}
	return c.ext
}

// alias returns the topic of inbound topic alias a.
func (c *conn) alias(a uint16) ([]byte, bool) {
	if c.ext == nil {
		return nil, false
	}
	t, ok := c.ext.aliases[a]
	return t, ok
}

// connWill is a connection's will message and its MQTT 5 Will Delay Interval in seconds.
type connWill struct {
	msg   *sessions.Message
	delay uint32
}

type connFlags uint16

const (
	flagDirty            connFlags = 1 << iota // in loop.dirty
	flagProblemInfo                            // v5 Request Problem Information (default 1)
	flagResponseInfo                           // v5 Request Response Information
	flagNormalDisconnect                       // DISCONNECT received: no will (unless 0x04)
	flagTakenOver                              // session moved to a new connection
	flagSessionPresent
	flagWillSent
	flagSlow        // output backlog above the high-water mark: in loop.slow
	flagWaitDurable // a stored delivery waits for its record to be durable: a Commit is pending
	flagSuperuser   // authenticated as superuser: ACL checks are skipped
	flagParked      // input stopped at a packet waiting for the access-control chain (parkACL)
	flagCleanStart  // CONNECT had Clean Start (Clean Session) set, for the hooks
	flagInReported  // the parked packet was reported to the PacketIn hooks already (tracepackets.go)
	flagThrottled   // input stopped at a packet over a rate limit: in loop.throttled (ratelimit.go)
	flagLinger      // closing with a lingering close: in loop.lingering (linger.go)
)

func (c *conn) has(f connFlags) bool { return c.flags&f != 0 }
func (c *conn) set(f connFlags)      { c.flags |= f }
func (c *conn) unset(f connFlags)    { c.flags &^= f }

// remote returns the peer's address and port (the port only for logs and authenticators).
func (c *conn) remote() netip.AddrPort { return netip.AddrPortFrom(c.peer, c.port) }

// addrPort returns the IP address and port of a, whatever the transport's address type.
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// reading reports whether the connection handles input now: not once closing, and not while
// its input is parked (behind a CONNECT waiting for the authenticator or for the listener's
// rate, at a packet waiting for the access-control chain, or at one over a rate limit).
func (c *conn) reading() bool {
	return (c.state == stateNew || c.state == stateConnected) && !c.has(flagParked|flagThrottled)
}

// parkedInputLimit is how many bytes of input may wait while the connection's input is parked
// (authentication pending): one whole packet of the zone's maximum size, at least 64 KiB.
func (c *conn) parkedInputLimit() int { return max(int(c.maxInbound())+5, 64<<10) }

// maxInbound is the largest packet accepted from this client.
func (c *conn) maxInbound() uint32 { return c.lis.Zone.MaxPacketSize }

// onTraffic decodes and handles every complete packet in the connection's input.
//
// The transport hands over each read in place (gnet does for TCP), but bytes left unconsumed
// at the end of a round (the start of a packet) move to gnet's ring buffer, and a Peek
// spanning them and the next read copies everything into a temporary buffer: up to a whole
// read per round for a stream of 4 KiB packets. So the packets that begin in the leftover
// (carry) are taken one at a time, a Peek copying at most that packet, and the rest of the read
// is then peeked in place.
func (c *conn) onTraffic() {
	if c.state >= stateClosing {
		if c.has(flagLinger) {
			c.lingerInput(c.tr.InboundBuffered())
		}
		_, _ = c.tr.Discard(-1)
		c.carry = 0
		return
	}
	if !c.reading() {
		if c.state != stateProxy {
			c.boundParked()
			return
		}
		if !c.readProxyHeader() {
			return
		}
		// The header is consumed: the CONNECT behind it, if it came, is read now.
	}
	if c.need > 0 {
		// A large packet is still arriving: wait for all of it without looking at (and so
		// without copying) the partial bytes on every read.
		if c.tr.InboundBuffered() < int(c.need) {
			c.carry = int32(c.tr.InboundBuffered())
			return
		}
		c.need = 0
	}
	for c.carry > 0 && c.reading() {
		avail := c.tr.InboundBuffered()
		hdr, _ := c.tr.Peek(min(avail, 5))
		h, err := codec.FrameV(hdr, c.maxInbound(), c.version)
		if err != nil {
			c.protocolError(err)
			break
		}
		size := h.HeaderLen + h.Length
		if h.HeaderLen == 0 || size > avail {
			if h.HeaderLen > 0 {
				c.need = int32(size)
			}
			c.carry = int32(avail)
			return
		}
		pkt, _ := c.tr.Peek(size)
		off := c.consume(pkt)
		if off == 0 {
			break // closing, or waiting for the authenticator
		}
		_, _ = c.tr.Discard(off)
		c.carry -= int32(off)
	}
	if c.reading() {
		if buf, _ := c.tr.Peek(-1); len(buf) > 0 {
			if off := c.consume(buf); off > 0 {
				// Never Discard(0): gnet treats n <= 0 as "discard everything".
				_, _ = c.tr.Discard(off)
			}
		}
	}
	c.carry = int32(c.tr.InboundBuffered()) // what gnet keeps for the next round
}

// boundParked keeps a parked connection's input (until the authenticator or the
// access-control chain answers, or the listener's rate lets the connection in), but not
// without bound: one packet of the largest size the zone accepts (at least 64 KiB) may wait.
func (c *conn) boundParked() {
	if c.tr.InboundBuffered() > c.parkedInputLimit() {
		_, _ = c.tr.Discard(-1)
		c.carry = 0
		code := codec.ReasonCode(0)
		if c.state == stateConnected {
			code = codec.QuotaExceeded
		}
		if c.has(flagThrottled) {
			c.loop.stats.ThrottledClosed++
			c.closeWith(code, c.throttledBoundMessage())
			return
		}
		c.closeLingering(code, "input sent while the connection waits for a decision exceeds "+strconv.Itoa(c.parkedInputLimit())+" bytes")
	}
}

// consume handles the complete packets at the start of buf and returns the bytes they took.
// It stops at an incomplete packet (noting its size in need when the header is known), on a
// protocol error, and when the connection starts closing or waits for its authenticator.
func (c *conn) consume(buf []byte) int {
	off := 0
	for off < len(buf) {
		h, err := codec.FrameV(buf[off:], c.maxInbound(), c.version)
		if err != nil {
			c.protocolError(err)
			break
		}
		if h.Total == 0 {
			if h.HeaderLen > 0 {
				c.need = int32(h.HeaderLen + h.Length)
			}
			break
		}
		if c.limit != nil && !c.admitLimited(h.Type, h.Total) {
			break // throttled: the packet waits (ratelimit.go)
		}
		pkt := buf[off : off+h.Total]
		off += h.Total
		if c.state == stateConnected {
			c.lastRecv = c.loop.now
		}
		c.loop.stats.PacketsIn++
		c.loop.stats.BytesIn += uint64(h.Total)
		c.cnt.RecvPkt++
		c.cnt.RecvOct += uint64(h.Total)
		c.packetIn(pkt)
		if err := c.handle(h.Type, pkt); err != nil {
			if err == errParked {
				// Handled again, from the start, once the access decision is in.
				off -= h.Total
				c.loop.stats.PacketsIn--
				c.loop.stats.BytesIn -= uint64(h.Total)
				c.cnt.RecvPkt--
				c.cnt.RecvOct -= uint64(h.Total)
				c.packetParked()
				if c.limit != nil {
					c.limit.refund(h.Type, h.Total)
				}
				break
			}
			c.protocolError(err)
			break
		}
		if !c.reading() {
			break
		}
	}
	return off
}

// handle dispatches one complete packet.
func (c *conn) handle(t codec.PacketType, pkt []byte) error {
	if c.state == stateNew {
		if t != codec.TypeConnect {
			// [MQTT-3.1.0-1] the first packet must be CONNECT.
			return errFirstNotConnect
		}
		return c.handleConnect(pkt)
	}
	switch t {
	case codec.TypePublish:
		return c.handlePublish(pkt)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		return c.handleAck(t, pkt)
	case codec.TypeSubscribe:
		return c.handleSubscribe(pkt)
	case codec.TypeUnsubscribe:
		return c.handleUnsubscribe(pkt)
	case codec.TypePingreq:
		if err := codec.DecodePingreq(pkt); err != nil {
			return err
		}
		c.loop.stats.Pingreq++
		c.write(codec.AppendPingresp(c.buf()))
		return nil
	case codec.TypeDisconnect:
		return c.handleDisconnect(pkt)
	case codec.TypeAuth:
		return c.handleAuth(pkt)
	case codec.TypeConnect:
		return errSecondConnect // [MQTT-3.1.0-2]
	default:
		return errServerPacket
	}
}

// buf returns the connection's output buffer for appending; write stores it back.
func (c *conn) buf() []byte {
	if c.out == nil {
		c.out = c.loop.getBuf()
	}
	return c.out
}

// write stores the grown output buffer and schedules the flush at the end of the round.
func (c *conn) write(b []byte) {
	c.out = b
	c.cnt.SendPkt++ // every caller appended one packet
	if !c.has(flagDirty) {
		c.set(flagDirty)
		c.loop.dirty = append(c.loop.dirty, c)
	}
}

// writevThreshold is the payload size from which a PUBLISH payload is not copied into the
// connection's output buffer but handed to the socket by reference (writev), since the
// message's bytes are immutable and shared.
const writevThreshold = 2048

// iovec lists, for one round, the output of a connection that carries large payloads by
// reference: bufs alternates slices of out (headers and small packets) with payloads.
type iovec struct {
	bufs  [][]byte
	msgs  []*sessions.Message // the messages whose payloads bufs references, held until written
	mark  int                 // end of the part of out already referenced in bufs
	bytes int                 // payload bytes referenced
}

// writeRef is write plus msg's payload sent by reference after b's last bytes. The message
// is held until the iovec is written or dropped (putIovec).
func (c *conn) writeRef(b []byte, msg *sessions.Message) {
	iv := c.iov
	if iv == nil {
		iv = c.loop.getIovec()
		c.iov = iv
	}
	msg.Hold()
	iv.msgs = append(iv.msgs, msg)
	iv.bufs = append(iv.bufs, b[iv.mark:], msg.Payload)
	iv.mark = len(b)
	iv.bytes += len(msg.Payload)
	c.write(b)
}

// flush hands the round's output to the socket (one write or writev call) and recycles the
// buffers.
//
// A failed write makes gnet close the connection at once, inside the call (OnClose runs
// nested), so the buffers are detached from the connection before writing.
func (c *conn) flush() {
	c.unset(flagDirty)
	out, iv := c.out, c.iov
	c.out, c.iov = nil, nil
	if len(out) == 0 {
		if iv != nil {
			c.loop.putIovec(iv)
		}
		return
	}
	l := c.loop
	var err error
	if iv != nil {
		if iv.mark < len(out) {
			iv.bufs = append(iv.bufs, out[iv.mark:])
		}
		l.stats.BytesOut += uint64(len(out) + iv.bytes)
		c.cnt.SendOct += uint64(len(out) + iv.bytes)
		c.packetsOut(nil, iv.bufs)
		_, err = c.tr.Writev(iv.bufs)
		l.putIovec(iv)
	} else {
		l.stats.BytesOut += uint64(len(out))
		c.cnt.SendOct += uint64(len(out))
		c.packetsOut(out, nil)
		_, err = c.tr.Write(out)
	}
	if err != nil {
		l.n.log.Debug("write failed", "client", c.clientID, "peer", c.peer.String(), "error", err)
	}
	l.putBuf(out)
}

// pending returns the bytes waiting to reach the socket: this round's output plus gnet's
// outbound buffer. The slow-consumer policy reads it.
func (c *conn) pending() int {
	n := len(c.out) + c.tr.OutboundBuffered()
	if c.iov != nil {
		n += c.iov.bytes
	}
	return n
}

// protocolError closes the connection because of bad input: an MQTT 5 client gets a
// DISCONNECT with the reason code first (a CONNACK if the CONNECT itself was bad).
func (c *conn) protocolError(err error) {
	code := codec.CodeOf(err)
	if code < 0x80 {
		code = codec.UnspecifiedError
	}
	c.loop.stats.ProtocolErrors++
	c.closeLingering(code, err.Error()) // the client may still be sending: linger.go
}

// closeWith sends an MQTT 5 DISCONNECT with code when the connection is established (a
// server-side DISCONNECT is only valid after CONNACK), logs why, and closes the socket once
// the output is written.
func (c *conn) closeWith(code codec.ReasonCode, why string) {
	if c.state >= stateClosing {
		return
	}
	if c.state == stateConnected && c.version == codec.V5 && code != 0 {
		d := &c.loop.disc
		d.Reset()
		d.Code = code
		if c.has(flagProblemInfo) && why != "" && code >= 0x80 {
			d.Props.SetReasonString([]byte(why))
		}
		b := c.buf()
		start := len(b)
		b = codec.AppendDisconnect(b, d, c.version)
		if c.clientMaxPacket > 0 && len(b)-start > int(c.clientMaxPacket) {
			// The reason string goes when it would exceed the client's maximum [MQTT-3.14.2-3].
			d.Props.Clear(codec.PropReasonString)
			b = codec.AppendDisconnect(b[:start], d, c.version)
		}
		c.write(b)
		c.loop.stats.DisconnectSent++
	}
	c.state = stateClosing
	c.closeCode = code
	level := slog.LevelInfo
	if code >= 0x80 && code != codec.SessionTakenOver && code != codec.ServerShuttingDown && code != codec.KeepAliveTimeout {
		level = slog.LevelWarn
	}
	if log := c.loop.n.log; log.Enabled(context.Background(), level) { // no argument garbage when off
		log.Log(context.Background(), level, "closing connection", "client", c.clientID, "peer", c.peer.String(), "reason", code.String(), "cause", why)
	}
	// Closing asynchronously lets the end of the round write the DISCONNECT first; gnet
	// flushes its outbound buffer before it closes the socket.
	c.closeTransport() // linger.go
}

// tick is the once-a-second check run by the loop's sweep.
func (c *conn) tick() {
	now := c.loop.now
	switch c.state {
	case stateWaiting:
		// Waiting for the listener's rate, not idle: idle_timeout counts once released.
	case stateProxy:
		c.proxyTimeout()
	case stateNew, stateAuth:
		if d := c.lis.Zone.IdleTimeout; d > 0 && now-c.lastRecv > int64(d) {
			c.loop.stats.IdleTimeouts++
			c.closeWith(0, "no CONNECT within idle_timeout")
		}
	case stateConnected:
		if c.keepAlive > 0 {
			// EMQX enforces keep alive × backoff × 2 (1.5× with the default 0.75)
			// [MQTT-3.1.2-24].
			limit := int64(float64(c.keepAlive) * 2 * c.lis.Zone.KeepaliveBackoff * 1e9)
			if now-c.lastRecv > limit {
				c.loop.stats.KeepaliveTimeouts++
				c.closeWith(codec.KeepAliveTimeout, "keep alive timeout")
				return
			}
		}
		if c.has(flagSlow) && c.lis.Zone.SendTimeout > 0 && now-c.slowSince > int64(c.lis.Zone.SendTimeout) {
			c.loop.stats.SlowClosed++
			c.closeWith(codec.QuotaExceeded, "slow consumer: output backlog not drained within send_timeout")
			return
		}
		c.sessionTick()
	}
}

// markSlow puts the connection on its loop's list of slow consumers, checked at the end of
// every round: gnet has no "drained" callback.
func (c *conn) markSlow() {
	if c.has(flagSlow) {
		return
	}
	c.set(flagSlow)
	c.slowSince = c.loop.now
	c.loop.slow = append(c.loop.slow, c)
}
