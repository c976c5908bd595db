package main

import (
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/codec"
)

// Client states, advanced on the client's event loop only.
const (
	stateConnecting  = iota // CONNECT sent, waiting for CONNACK
	stateSubscribing        // SUBSCRIBE sent, waiting for SUBACK
	stateReady              // publishing and/or receiving
	stateFailed             // refused or broken; the connection is closed
)

// client is one MQTT connection of the tool. After OnOpen every field is owned by the
// client's event loop; the runner reads only the atomics of publisher and loopState.
type client struct {
	r       *runner
	idx     int    // index within its role
	role    string // "pub", "sub" or "conn"
	id      []byte // client identifier
	filter  []byte // subscription filter, empty for none
	scope   *scope // what this subscriber must receive; nil for a publisher
	pub     *publisher
	conn    gnet.Conn
	loop    *loopState
	state   uint8
	dead    atomic.Bool // stateFailed, readable by the runner
	dialAt  int64       // monotonic ns since the run's base, when the CONNECT was written
	lastOut int64       // monotonic ns of the last write, for keep alive
}

// publisher is the sending half of a client. Counters the runner reads are single-writer
// atomics (Load+Store by the owner loop); delivered is added to by every loop.
type publisher struct {
	id       uint32
	msg      codec.Publish // template: topic, QoS, retain; payload is the client's buffer
	payload  []byte
	copies   uint64 // in-tool deliveries expected per message (0: none in this run)
	window   int64  // closed loop: undelivered messages allowed (0: open loop)
	start    int64  // wall ns when publishing began
	next     uint64 // sequence number of the next message = messages written
	sent     atomic.Uint64
	acked    atomic.Uint64 // QoS 1: PUBACK, QoS 2: PUBCOMP
	inflight atomic.Int64
	ids      []uint64 // QoS 1/2: bitmap of packet ids in use
	nextID   uint16
	done     atomic.Bool // count reached (and, for QoS 1/2, acknowledged)

	delivered     atomic.Uint64 // in-tool first deliveries of this publisher's messages
	lastDelivered uint64        // closed-loop window: progress seen at the last fill
	lastProgress  int64
	forgiven      uint64 // messages written off by the window as lost (stalls)
	stalls        atomic.Uint64
}

// loopState is one event loop's share of the run: its clients, scratch buffers and
// counters. Counters are single-writer atomics written by that loop only.
type loopState struct {
	el      gnet.EventLoop
	clients []*client   // every client on this loop (keep alive)
	pubs    []*client   // publishers on this loop (pacing)
	pending atomic.Bool // the pacing task is queued
	pingDue atomic.Bool // the next pacing task also sends keep-alive pings
	task    gnet.Runnable

	out       []byte // scratch for building PUBLISH batches
	acks      []byte // scratch for acknowledgements written at the end of OnTraffic
	pkt       codec.Publish
	ack       codec.Ack
	connack   codec.Connack
	suback    codec.Suback
	delivered []uint64 // per publisher, first deliveries not yet added to publisher.delivered
	touched   []uint32 // publishers with delivered != 0

	lat     liveHistogram
	connLat liveHistogram

	sent, acked, recv, fresh, dups, late atomic.Uint64
	foreign, unexpected, protoErr        atomic.Uint64
}

// inc adds n to a single-writer counter.
func inc(c *atomic.Uint64, n uint64) { c.Store(c.Load() + n) }

// handler is the gnet event handler of the tool's clients.
type handler struct {
	gnet.BuiltinEventEngine
	r *runner
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cl, ok := c.Context().(*client)
	if !ok {
		return nil, gnet.Close
	}
	cl.conn = c
	cl.loop = h.r.loopFor(c.EventLoop())
	cl.loop.clients = append(cl.loop.clients, cl)
	if cl.pub != nil {
		cl.loop.pubs = append(cl.loop.pubs, cl)
	}
	cl.lastOut = h.r.mono()
	// CONNACK latency counts from here: the dial and the hand-over of the socket to a loop
	// are the tool's own work (goroutine scheduling), not the broker's.
	cl.dialAt = cl.lastOut
	return h.r.connectPacket(cl), gnet.None
}

func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	cl, ok := c.Context().(*client)
	if !ok || cl.loop == nil {
		return gnet.None
	}
	if cl.state != stateFailed && !h.r.closing.Load() {
		h.r.lostConn(cl, err)
	}
	cl.state = stateFailed
	cl.dead.Store(true)
	return gnet.None
}

// OnTraffic handles every whole packet in the inbound buffer; acknowledgements are
// collected and written once at the end.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cl := c.Context().(*client)
	l := cl.loop
	buf, _ := c.Peek(-1)
	now := time.Now().UnixNano()
	acks := l.acks[:0]
	consumed := 0
	refill := false
	r := h.r
	for consumed < len(buf) {
		fh, err := codec.Frame(buf[consumed:], 0)
		if err != nil {
			r.fail(cl, "malformed packet from broker: "+err.Error())
			return gnet.Close
		}
		if fh.Total == 0 {
			break
		}
		pkt := buf[consumed : consumed+fh.Total]
		consumed += fh.Total
		switch fh.Type {
		case codec.TypePublish:
			acks = h.onPublish(cl, pkt, now, acks)
		case codec.TypePuback, codec.TypePubcomp:
			if l.ack.Decode(pkt, r.o.Version) != nil || cl.pub == nil {
				inc(&l.protoErr, 1)
				continue
			}
			cl.pub.release(l.ack.PacketID)
			inc(&l.acked, 1)
			refill = true
		case codec.TypePubrec:
			if l.ack.Decode(pkt, r.o.Version) != nil {
				inc(&l.protoErr, 1)
				continue
			}
			acks = codec.AppendAck(acks, &codec.Ack{Type: codec.TypePubrel, PacketID: l.ack.PacketID}, r.o.Version)
		case codec.TypePubrel:
			if l.ack.Decode(pkt, r.o.Version) != nil {
				inc(&l.protoErr, 1)
				continue
			}
			acks = codec.AppendAck(acks, &codec.Ack{Type: codec.TypePubcomp, PacketID: l.ack.PacketID}, r.o.Version)
		case codec.TypeConnack:
			if err := l.connack.Decode(pkt, r.o.Version); err != nil {
				r.fail(cl, "bad CONNACK: "+err.Error())
				return gnet.Close
			}
			if l.connack.Code != codec.Success {
				r.fail(cl, "CONNACK refused: "+l.connack.Code.String())
				return gnet.Close
			}
			if d := r.mono() - cl.dialAt; d > 0 {
				l.connLat.record(uint64(d))
			}
			r.connected.Add(1)
			if len(cl.filter) > 0 {
				cl.state = stateSubscribing
				acks = codec.AppendSubscribe(acks, &codec.Subscribe{PacketID: 1,
					Subs: []codec.Subscription{{Filter: cl.filter, QoS: r.o.SubQoS}}}, r.o.Version)
			} else {
				cl.state = stateReady
				r.ready.Add(1)
				refill = true
			}
		case codec.TypeSuback:
			if err := l.suback.Decode(pkt, r.o.Version); err != nil {
				r.fail(cl, "bad SUBACK: "+err.Error())
				return gnet.Close
			}
			if len(l.suback.Codes) == 0 || l.suback.Codes[0].IsError() {
				code := codec.UnspecifiedError
				if len(l.suback.Codes) > 0 {
					code = l.suback.Codes[0]
				}
				r.fail(cl, "SUBSCRIBE refused: "+code.String())
				return gnet.Close
			}
			cl.state = stateReady
			r.ready.Add(1)
			refill = true
		case codec.TypeDisconnect:
			r.fail(cl, "DISCONNECT from broker")
			return gnet.Close
		case codec.TypePingresp:
		default:
			inc(&l.protoErr, 1)
		}
	}
	if consumed > 0 {
		_, _ = c.Discard(consumed)
	}
	// Deliveries open the publishers' closed-loop windows: top up a publisher on this loop
	// now, and wake the loop of any other one instead of waiting for its next tick.
	for _, p := range l.touched {
		pc := r.pubs[p]
		pc.pub.delivered.Add(l.delivered[p])
		l.delivered[p] = 0
		if pc.pub.window > 0 {
			if pc.loop == l {
				pc.fill(now)
			} else if pl := pc.loop; pl != nil {
				r.kick(pl)
			}
		}
	}
	l.touched = l.touched[:0]
	if len(acks) > 0 {
		_, _ = c.Write(acks)
		cl.lastOut = r.mono()
	}
	l.acks = acks[:0]
	if refill && cl.pub != nil {
		cl.fill(now)
	}
	return gnet.None
}

func (h *handler) onPublish(cl *client, pkt []byte, now int64, acks []byte) []byte {
	l, r := cl.loop, h.r
	if err := l.pkt.Decode(pkt, r.o.Version); err != nil {
		inc(&l.protoErr, 1)
		return acks
	}
	inc(&l.recv, 1)
	switch l.pkt.QoS {
	case 1:
		acks = codec.AppendAck(acks, &codec.Ack{Type: codec.TypePuback, PacketID: l.pkt.PacketID}, r.o.Version)
	case 2:
		acks = codec.AppendAck(acks, &codec.Ack{Type: codec.TypePubrec, PacketID: l.pkt.PacketID}, r.o.Version)
	}
	run, pub, seq, ts, ok := readStamp(l.pkt.Payload)
	if !ok {
		inc(&l.foreign, 1)
		return acks
	}
	if lat := now - ts; lat > 0 {
		l.lat.record(uint64(lat))
	} else {
		l.lat.record(0)
	}
	if run != r.runTag || cl.scope == nil || int(pub) >= len(cl.scope.sets) {
		inc(&l.foreign, 1)
		return acks
	}
	if !cl.scope.wanted[pub] {
		inc(&l.unexpected, 1)
	}
	fresh, late := cl.scope.record(pub, seq)
	if !fresh {
		inc(&l.dups, 1)
		return acks
	}
	inc(&l.fresh, 1)
	if late {
		inc(&l.late, 1)
	}
	if l.delivered[pub] == 0 {
		l.touched = append(l.touched, pub)
	}
	l.delivered[pub]++
	return acks
}

// Batching bounds: one write carries at most batchBytes of PUBLISHes, and one fill at most
// fillBatches writes (it stops early once the socket pushes back).
const (
	batchBytes  = 64 << 10
	fillBatches = 4
	stallNanos  = int64(300 * time.Millisecond)
)

// fill writes as many PUBLISHes as the rate, count, inflight window, closed-loop window and
// socket allow. It runs on the client's loop (pacing task or OnTraffic).
func (cl *client) fill(now int64) {
	p, r := cl.pub, cl.r
	if p == nil || cl.state != stateReady || !r.publishing.Load() || r.stopping.Load() || p.done.Load() {
		return
	}
	o := &r.o
	if p.start == 0 {
		p.start = now
		p.lastProgress = now
	}
	n := int64(1) << 40
	if o.Count > 0 {
		n = o.Count - int64(p.next)
	}
	if o.Rate > 0 {
		due := int64(float64(now-p.start)*o.Rate/1e9) + 1 - int64(p.next)
		n = min(n, due)
	}
	if o.QoS > 0 {
		n = min(n, int64(o.Inflight)-p.inflight.Load())
	}
	if p.window > 0 {
		d := p.delivered.Load() / p.copies
		if d != p.lastDelivered {
			p.lastDelivered, p.lastProgress = d, now
		}
		out := int64(p.next) - int64(p.forgiven) - int64(d)
		if out > 0 && now-p.lastProgress > stallNanos {
			// Nothing delivered for a while: the broker dropped what is outstanding
			// (its queue limits). Write it off so that the publisher goes on; the
			// loss is counted exactly by the subscribers' sequence sets.
			p.forgiven = p.next - d
			p.lastProgress = now
			p.stalls.Add(1)
			out = 0
		}
		n = min(n, p.window-max(out, 0))
	}
	if n <= 0 {
		if o.Count > 0 && int64(p.next) >= o.Count && p.inflight.Load() == 0 {
			p.done.Store(true)
		}
		return
	}
	if cl.conn.OutboundBuffered() > 0 {
		return // the socket is full: TCP back-pressure
	}
	l := cl.loop
	per := max(int64(batchBytes/(len(p.payload)+len(p.msg.Topic)+16)), 1)
	for b := 0; b < fillBatches && n > 0; b++ {
		k := min(n, per)
		buf := l.out[:0]
		var i int64
		for ; i < k; i++ {
			if o.QoS > 0 {
				id, ok := p.acquire()
				if !ok {
					break
				}
				p.msg.PacketID = id
			}
			putStamp(p.payload, r.runTag, p.id, p.next+uint64(i), now)
			buf = codec.AppendPublish(buf, &p.msg, o.Version)
		}
		if i == 0 {
			break
		}
		_, _ = cl.conn.Write(buf)
		l.out = buf[:0]
		p.next += uint64(i)
		p.sent.Store(p.next)
		inc(&l.sent, uint64(i))
		n -= i
		cl.lastOut = r.mono()
		if cl.conn.OutboundBuffered() > 0 {
			break
		}
	}
}

// acquire takes a free packet id; false when all are in use (cannot happen below 65535 inflight).
func (p *publisher) acquire() (uint16, bool) {
	for range 65535 {
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		w, m := p.nextID/64, uint64(1)<<(p.nextID%64)
		if p.ids[w]&m == 0 {
			p.ids[w] |= m
			p.inflight.Store(p.inflight.Load() + 1)
			return p.nextID, true
		}
	}
	return 0, false
}

// release frees packet id (PUBACK or PUBCOMP); an unknown id is ignored.
func (p *publisher) release(id uint16) {
	w, m := id/64, uint64(1)<<(id%64)
	if p.ids == nil || p.ids[w]&m == 0 {
		return
	}
	p.ids[w] &^= m
	p.inflight.Store(p.inflight.Load() - 1)
	p.acked.Store(p.acked.Load() + 1)
}
