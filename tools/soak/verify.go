package main

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// A verified flow is one publisher and one persistent subscriber on a topic of their own, at
// QoS 1 or 2, reconnecting through every broker restart. The publisher records each sequence
// number the broker acknowledged (PUBACK, or PUBCOMP); the subscriber records each one it
// received (QoS 2: a PUBLISH whose packet id is not awaiting PUBREL, as the receiver's side of
// exactly-once requires). At the end: acknowledged but never received = lost; QoS 2 received
// more than once = duplicate.
type flow struct {
	qos   byte
	topic string
	pubID string
	subID string

	mu       sync.Mutex
	acked    map[int]bool // sequence numbers the broker acknowledged to the publisher
	received map[int]int  // sequence number → deliveries to the subscriber
	lostSess int          // reconnects of the subscriber that found no session

	pause *atomic.Bool // while true the publisher sends nothing but a PINGREQ every 10 s (nil: never)
}

func newFlow(qos byte, i int) *flow {
	name := "q" + strconv.Itoa(int(qos)) + "-" + strconv.Itoa(i)
	return &flow{qos: qos, topic: "soak/verify/" + name, pubID: "pub-" + name, subID: "sub-" + name,
		acked: map[int]bool{}, received: map[int]int{}}
}

// persistentConnect is the CONNECT of a verified client: MQTT 5, a session that outlives the
// connection (and any restart) by an hour; clean start only the first time.
func persistentConnect(id string, first bool) *codec.Connect {
	cp := &codec.Connect{Version: codec.V5, CleanStart: first, KeepAlive: 30, ClientID: []byte(id)}
	cp.Props.SetSessionExpiry(3600)
	return cp
}

// subscribe runs the subscriber until ctx ends.
func (f *flow) subscribe(ctx context.Context, addr string, st *soakStats) {
	first := true
	awaiting := map[uint16]bool{} // QoS 2 packet ids received and not yet released (PUBREL)
	for ctx.Err() == nil {
		m, ack, err := dial(addr, persistentConnect(f.subID, first))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !first && !ack.SessionPresent {
			f.mu.Lock()
			f.lostSess++
			f.mu.Unlock()
			awaiting = map[uint16]bool{}
		}
		if first || !ack.SessionPresent {
			err := m.send(func(b []byte) []byte {
				return codec.AppendSubscribe(b, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(f.topic), QoS: f.qos}}}, codec.V5)
			})
			if err != nil {
				m.close()
				continue
			}
		}
		first = false
		stop := context.AfterFunc(ctx, m.close)
		for {
			h, pkt, err := m.read()
			if err != nil {
				break
			}
			switch h.Type {
			case codec.TypePublish:
				var p codec.Publish
				if p.Decode(pkt, codec.V5) != nil {
					continue
				}
				seq, _ := strconv.Atoi(string(p.Payload))
				deliver := true
				if p.QoS == 2 {
					deliver = !awaiting[p.PacketID]
					awaiting[p.PacketID] = true
				}
				if deliver {
					f.mu.Lock()
					f.received[seq]++
					f.mu.Unlock()
				}
				switch p.QoS {
				case 1:
					_ = m.ack(codec.TypePuback, p.PacketID)
				case 2:
					_ = m.ack(codec.TypePubrec, p.PacketID)
				}
			case codec.TypePubrel:
				var a codec.Ack
				if a.Decode(pkt, codec.V5) == nil {
					delete(awaiting, a.PacketID)
					_ = m.ack(codec.TypePubcomp, a.PacketID)
				}
			}
		}
		stop()
		m.close()
		st.verifyReconnects.Add(1)
	}
}

// publish runs the publisher until ctx ends: one message at a time, every interval, each
// retried (DUP, same packet id; QoS 2: PUBREL once PUBREC came) across reconnects until the
// broker acknowledges it.
func (f *flow) publish(ctx context.Context, addr string, interval time.Duration, st *soakStats) {
	seq, stage := 1, 0 // stage 1: PUBREC received, PUBREL to send (QoS 2)
	first, dup := true, false
	for ctx.Err() == nil {
		m, ack, err := dial(addr, persistentConnect(f.pubID, first))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !first && !ack.SessionPresent && stage == 1 {
			// The broker forgot the QoS 2 state it acknowledged with PUBREC: counted, and the
			// message is sent again (a duplicate, if the broker routed it already).
			st.pubSessionsLost.Add(1)
			stage, dup = 0, false
		}
		first = false
		stop := context.AfterFunc(ctx, m.close)
		for ctx.Err() == nil {
			id := uint16(seq%65535 + 1)
			if stage == 0 {
				p := &codec.Publish{Topic: []byte(f.topic), QoS: f.qos, PacketID: id, Dup: dup, Payload: []byte(strconv.Itoa(seq))}
				if m.send(func(b []byte) []byte { return codec.AppendPublish(b, p, codec.V5) }) != nil {
					break
				}
			} else if m.ack(codec.TypePubrel, id) != nil {
				break
			}
			dup = true // from now on this message is a retransmission
			t, code, err := m.answer(id)
			if err != nil {
				break
			}
			done := false
			switch {
			case t == codec.TypePuback && f.qos == 1:
				done = code < 0x80
			case t == codec.TypePubrec && f.qos == 2:
				if code < 0x80 {
					stage = 1
				}
				continue
			case t == codec.TypePubcomp && f.qos == 2:
				done = true
			}
			if !done {
				continue
			}
			f.mu.Lock()
			f.acked[seq] = true
			f.mu.Unlock()
			st.verifiedAcked.Add(1)
			seq, stage, dup = seq+1, 0, false
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
			if f.waitPaused(ctx, m, interval) != nil {
				break
			}
		}
		stop()
		m.close()
		st.verifyReconnects.Add(1)
	}
}

// waitPaused returns once the flows are not paused, keeping the connection alive meanwhile.
func (f *flow) waitPaused(ctx context.Context, m *rawClient, interval time.Duration) error {
	for idle := time.Duration(0); f.pause != nil && f.pause.Load() && ctx.Err() == nil; idle += interval {
		if idle >= 10*time.Second {
			if err := m.write([]byte{0xc0, 0x00}); err != nil { // PINGREQ; answer skips the PINGRESP
				return err
			}
			idle = 0
		}
		sleepCtx(ctx, interval)
	}
	return nil
}

// answer reads until the acknowledgement of packet id arrives (10 s at most).
func (m *rawClient) answer(id uint16) (codec.PacketType, codec.ReasonCode, error) {
	_ = m.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer m.c.SetReadDeadline(time.Time{})
	for {
		h, pkt, err := m.read()
		if err != nil {
			return 0, 0, err
		}
		switch h.Type {
		case codec.TypePuback, codec.TypePubrec, codec.TypePubcomp:
			var a codec.Ack
			if a.Decode(pkt, m.v) == nil && a.PacketID == id {
				return h.Type, a.Code, nil
			}
		}
	}
}

// result returns the sequence numbers acknowledged and never received, and those received
// more than once (QoS 2 only: QoS 1 may repeat).
func (f *flow) result() (acked, lost, dups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for seq := range f.acked {
		if f.received[seq] == 0 {
			lost++
		}
	}
	if f.qos == 2 {
		for _, n := range f.received {
			if n > 1 {
				dups += n - 1
			}
		}
	}
	return len(f.acked), lost, dups
}

// pendingLoss counts the acknowledged messages not received yet (for the final drain).
func (f *flow) pendingLoss() int {
	_, lost, _ := f.result()
	return lost
}

type soakStats struct {
	verifiedAcked    atomic.Int64
	verifyReconnects atomic.Int64
	pubSessionsLost  atomic.Int64

	connects, connectFailures atomic.Int64
	publishes                 [3]atomic.Int64
	subscribes                atomic.Int64
	disconnects, abrupt       atomic.Int64
	takeovers                 atomic.Int64 // DISCONNECT 0x8E received
	persistent                atomic.Int64 // connects resuming a persistent session
	slow                      atomic.Int64 // episodes of not reading with a firehose subscription
	paced                     atomic.Int64 // publishes skipped by the profile's rate bound
	malformed                 atomic.Int64 // malformed packets sent
	kills, restarts           atomic.Int64
}
