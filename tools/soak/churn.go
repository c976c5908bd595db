package main

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// churn runs one client slot until ctx ends: it connects (3.1.1 or 5, sometimes with a
// persistent session, sometimes with a client id another slot uses: a takeover), subscribes,
// publishes at QoS 0/1/2, stays a while and leaves (DISCONNECT or a dropped socket); some
// episodes subscribe to the firehose and stop reading (a slow consumer), some send a malformed
// packet. Failures (the broker being down) just wait and retry.
func churn(ctx context.Context, ld *load, addr string, slot, slots int, rng *rand.Rand, st *soakStats) {
	for ctx.Err() == nil {
		switch k := rng.IntN(100); {
		case k < 4:
			malformed(addr, rng, st)
		case k < 7 && ld.slow.take():
			slowConsumer(ctx, addr, slot, rng, st)
			ld.slow.release()
		default:
			session(ctx, ld, addr, slot, slots, rng, st)
		}
		sleepCtx(ctx, time.Duration(50+rng.IntN(500))*time.Millisecond)
	}
}

// load is what a profile sets for every churn slot: shared by all of them.
type load struct {
	prof profile
	pace *pacer // the churn's total publish rate
	slow slots  // slow consumers at once
}

func newLoad(p profile) *load {
	return &load{prof: p, pace: newPacer(p.pubRate), slow: slots{max: int64(p.slowMax)}}
}

// churnSessionExpiry is the lifetime in seconds of the churn's persistent sessions.
const churnSessionExpiry = 20

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// session is one ordinary connection's life.
func session(ctx context.Context, ld *load, addr string, slot, slots int, rng *rand.Rand, st *soakStats) {
	v := codec.V311
	if rng.IntN(2) == 0 {
		v = codec.V5
	}
	id := "churn-" + strconv.Itoa(slot)
	if rng.IntN(10) == 0 {
		id = "churn-" + strconv.Itoa(rng.IntN(slots)) // another slot's id: a takeover
	}
	cp := &codec.Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: []byte(id)}
	if rng.IntN(5) == 0 {
		cp.CleanStart = false // persistent session (3.1.1: clean session 0; 5: expiry)
		if v == codec.V5 {
			cp.Props.SetSessionExpiry(churnSessionExpiry)
		}
		st.persistent.Add(1)
	}
	m, _, err := dial(addr, cp)
	if err != nil {
		st.connectFailures.Add(1)
		sleepCtx(ctx, 200*time.Millisecond)
		return
	}
	st.connects.Add(1)
	defer m.close()
	// Reader: acknowledges what needs it, notes takeovers, discards the rest.
	go func() {
		for {
			h, pkt, err := m.read()
			if err != nil {
				return
			}
			switch h.Type {
			case codec.TypePublish:
				var p codec.Publish
				if p.Decode(pkt, v) == nil {
					switch p.QoS {
					case 1:
						_ = m.ack(codec.TypePuback, p.PacketID)
					case 2:
						_ = m.ack(codec.TypePubrec, p.PacketID)
					}
				}
			case codec.TypePubrec:
				var a codec.Ack
				if a.Decode(pkt, v) == nil {
					_ = m.ack(codec.TypePubrel, a.PacketID)
				}
			case codec.TypePubrel:
				var a codec.Ack
				if a.Decode(pkt, v) == nil {
					_ = m.ack(codec.TypePubcomp, a.PacketID)
				}
			case codec.TypeDisconnect:
				var d codec.Disconnect
				if d.Decode(pkt, v) == nil && d.Code == codec.SessionTakenOver {
					st.takeovers.Add(1)
				}
			}
		}
	}()
	room := strconv.Itoa(rng.IntN(200))
	filter := "churn/" + room + "/#"
	if rng.IntN(ld.prof.wildShare) == 0 {
		filter = "churn/+/" + strconv.Itoa(rng.IntN(20))
	}
	qos := byte(rng.IntN(3))
	if m.send(func(b []byte) []byte {
		return codec.AppendSubscribe(b, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}, v)
	}) != nil {
		return
	}
	st.subscribes.Add(1)
	stay := time.Now().Add(ld.prof.stayMin + time.Duration(rng.Int64N(int64(ld.prof.stayMax-ld.prof.stayMin)+1)))
	payload := make([]byte, 16+rng.IntN(200))
	for pid := uint16(2); time.Now().Before(stay) && ctx.Err() == nil; pid++ {
		if !ld.pace.allow() {
			st.paced.Add(1)
			sleepCtx(ctx, time.Duration(100+rng.IntN(400))*time.Millisecond)
			continue
		}
		q := byte(rng.IntN(3))
		p := &codec.Publish{Topic: []byte("churn/" + room + "/" + strconv.Itoa(rng.IntN(20))), QoS: q, Payload: payload}
		if q > 0 {
			p.PacketID = pid%65000 + 2
		}
		if m.send(func(b []byte) []byte { return codec.AppendPublish(b, p, v) }) != nil {
			return
		}
		st.publishes[q].Add(1)
		sleepCtx(ctx, time.Duration(100+rng.IntN(400))*time.Millisecond)
	}
	if rng.IntN(4) == 0 {
		st.abrupt.Add(1) // the socket just closes (the will rules, keep alive not involved)
		return
	}
	_ = m.send(func(b []byte) []byte { return codec.AppendDisconnect(b, &codec.Disconnect{}, v) })
	st.disconnects.Add(1)
}

// slowConsumer subscribes to every churn message at QoS 0 and 1 and reads nothing for a few
// seconds: the broker's slow-consumer policy has to hold it.
func slowConsumer(ctx context.Context, addr string, slot int, rng *rand.Rand, st *soakStats) {
	m, _, err := dial(addr, &codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 60, ClientID: []byte("slow-" + strconv.Itoa(slot))})
	if err != nil {
		st.connectFailures.Add(1)
		return
	}
	st.connects.Add(1)
	defer m.close()
	if tc, ok := m.c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10) // a small window: the backlog builds on the broker's side
	}
	if m.send(func(b []byte) []byte {
		return codec.AppendSubscribe(b, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("churn/#"), QoS: byte(rng.IntN(2))}}}, codec.V5)
	}) != nil {
		return
	}
	st.slow.Add(1)
	sleepCtx(ctx, time.Duration(2+rng.IntN(8))*time.Second)
}

// malformedPackets are byte strings no correct client sends after a CONNECT.
var malformedPackets = [][]byte{
	{0x00, 0x00},                            // packet type 0 (reserved)
	{0x30, 0xff, 0xff, 0xff, 0xff},          // remaining length of five bytes
	{0x82, 0x02, 0x00, 0x01},                // SUBSCRIBE without a filter
	{0x32, 0x04, 0x00, 0x02, 'a'},           // QoS 1 PUBLISH cut inside its topic
	{0x30, 0x05, 0x00, 0x03, 'a', '+', 'b'}, // wildcard in a PUBLISH topic
	{0x10, 0x00},                            // a second CONNECT
	{0xe0, 0x03, 0x00, 0x00, 0x00},          // DISCONNECT with a bad length
}

// malformed connects and sends one malformed packet (or garbage instead of a CONNECT), then
// reads until the broker closes.
func malformed(addr string, rng *rand.Rand, st *soakStats) {
	v := codec.V311
	if rng.IntN(2) == 0 {
		v = codec.V5
	}
	m, _, err := dial(addr, &codec.Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: []byte("bad-" + strconv.Itoa(rng.IntN(1000)))})
	if err != nil {
		st.connectFailures.Add(1)
		return
	}
	st.connects.Add(1)
	defer m.close()
	if m.write(malformedPackets[rng.IntN(len(malformedPackets))]) != nil {
		return
	}
	st.malformed.Add(1)
	_ = m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := m.read(); err != nil {
			return
		}
	}
}
