package bridge

import (
	"sync"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/service/bridge/mqttc"
)

// session is the state of one connection to the remote: the QoS 1/2 messages in flight by
// packet identifier, the batches not wholly acknowledged, and the inbound QoS 2 messages
// waiting for PUBREL. The worker goroutine sends; the connection's reader goroutine calls the
// mqttc.Handler methods; mu guards what both touch.
type session struct {
	b    *Bridge
	conn *mqttc.Conn
	info mqttc.ConnackInfo
	wake chan struct{} // an acknowledgement made room in the window

	mu       sync.Mutex
	flights  map[uint16]*flight  // outbound QoS 1/2 waiting for PUBACK or PUBREC
	pubrel   map[uint16]struct{} // outbound QoS 2 waiting for PUBCOMP (PUBREL sent)
	inbound  map[uint16]struct{} // inbound QoS 2 published, waiting for PUBREL
	batches  int                 // batches with a message in flights
	inflight int                 // len(flights)
}

type flight struct {
	seq   uint64
	batch *batch
	item  []byte // the queue item, for a resend (MQTT 3.x retry_interval)
	qos   byte
	sent  time.Time
}

type batch struct{ left int }

func newSession(b *Bridge) *session {
	return &session{b: b, wake: make(chan struct{}, 1), flights: map[uint16]*flight{}, pubrel: map[uint16]struct{}{}, inbound: map[uint16]struct{}{}}
}

// resendPubrel sends again the PUBRELs of a resumed session (connect took them over from
// the previous connection; with a new session they were forgotten, as the remote forgot them).
func (s *session) resendPubrel() {
	s.mu.Lock()
	ids := make([]uint16, 0, len(s.pubrel))
	for id := range s.pubrel {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.conn.Ack(codec.TypePubrel, id)
	}
}

// packetID returns a packet identifier not in use on this connection.
func (s *session) packetID() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packetIDLocked()
}

func (s *session) packetIDLocked() uint16 {
	for {
		id := uint16(s.b.nextID.Add(1))
		if id == 0 {
			continue
		}
		if _, busy := s.flights[id]; busy {
			continue
		}
		if _, busy := s.pubrel[id]; busy {
			continue
		}
		return id
	}
}

// subscribe sends a SUBSCRIBE of subs (MQTT 5: No Local, so that the remote does not echo
// what the bridge forwards).
func (s *session) subscribe(subs []Subscription) {
	if len(subs) == 0 {
		return
	}
	list := make([]codec.Subscription, len(subs))
	for i, x := range subs {
		list[i] = codec.Subscription{Filter: []byte(x.Topic), QoS: x.QoS, NoLocal: s.conn.Version() >= codec.V5}
	}
	if err := s.conn.Subscribe(s.packetID(), list); err != nil {
		s.b.log.Warn("bridge cannot subscribe at the remote", "error", err)
	}
}

// fill sends batches while the window has room: at most max_inflight_batches batches with
// unacknowledged messages, and at most the remote's Receive Maximum QoS 1/2 messages.
func (s *session) fill() error {
	b := s.b
	var pub codec.Publish
	for {
		s.mu.Lock()
		room := min(b.cfg.BatchCount, int(s.info.ReceiveMaximum)-s.inflight)
		full := s.batches >= b.cfg.MaxInflightBatches || room <= 0
		s.mu.Unlock()
		if full {
			return nil
		}
		items, err := b.q.Pop(room, b.cfg.BatchBytes)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		now := time.Now()
		bt := &batch{}
		var done []uint64 // QoS 0, expired, undecodable: out of the queue once written
		qos0 := 0
		s.mu.Lock()
		ids := make([]uint16, len(items))
		send := make([]bool, len(items))
		for i, it := range items {
			_, ok := b.decodeForSend(it.Data, &pub, now)
			switch {
			case !ok:
				done = append(done, it.Seq)
				continue
			case s.tooLarge(it.Data):
				b.tooLarge.Add(1)
				b.log.Warn("bridged message larger than the remote's Maximum Packet Size; dropped", "topic", string(pub.Topic), "bytes", len(pub.Payload))
				done = append(done, it.Seq)
				continue
			}
			send[i] = true
			qos := min(pub.QoS, s.info.MaximumQoS)
			if qos == 0 {
				done = append(done, it.Seq)
				qos0++
				continue
			}
			id := s.packetIDLocked()
			ids[i] = id
			s.flights[id] = &flight{seq: it.Seq, batch: bt, item: it.Data, qos: qos, sent: now}
			bt.left++
		}
		if bt.left > 0 {
			s.batches++
			s.inflight += bt.left
		}
		s.mu.Unlock()
		err = s.conn.Write(func(buf []byte) []byte {
			for i, it := range items {
				if send[i] {
					expiry, _ := decodeMessage(it.Data, &pub)
					buf = s.appendDecoded(buf, &pub, expiry, ids[i], false, now)
				}
			}
			return buf
		})
		if err != nil {
			return err
		}
		if len(done) > 0 {
			b.q.Ack(done...)
			b.sent.Add(uint64(qos0))
		}
	}
}

// tooLarge reports whether queue item it, sent, could exceed the remote's Maximum Packet
// Size (MQTT 5): such a packet would only get the connection closed, again at each resend.
// The bound counts the mountpoint, the packet identifier, the expiry property and a longer
// length field over the stored packet.
func (s *session) tooLarge(item []byte) bool {
	max := s.info.MaximumPacketSize
	return max > 0 && int64(len(item)-8+len(s.b.cfg.Mountpoint)+2+5+3) > int64(max)
}

// appendDecoded encodes pub, decoded from a queue item, as a PUBLISH to the remote with
// packet id (0 for QoS 0).
func (s *session) appendDecoded(buf []byte, pub *codec.Publish, expiry int64, id uint16, dup bool, now time.Time) []byte {
	b := s.b
	pub.QoS = min(pub.QoS, s.info.MaximumQoS)
	pub.PacketID = id
	pub.Dup = dup && pub.QoS > 0
	if !s.info.RetainAvailable {
		pub.Retain = false
	}
	if b.cfg.Mountpoint != "" {
		pub.Topic = append([]byte(b.cfg.Mountpoint), pub.Topic...)
	}
	v := s.conn.Version()
	if v >= codec.V5 && expiry != 0 {
		pub.Props.SetMessageExpiry(uint32(max((expiry-now.UnixNano())/int64(time.Second), 1)))
	}
	return codec.AppendPublish(buf, pub, v)
}

// retry resends, on an MQTT 3.x connection, the QoS 1/2 messages unacknowledged for longer
// than interval, with DUP set (retry_interval), and the PUBRELs.
func (s *session) retry(interval time.Duration) {
	now := time.Now()
	var pub codec.Publish
	s.mu.Lock()
	type resend struct {
		id   uint16
		item []byte
	}
	var list []resend
	for id, f := range s.flights {
		if now.Sub(f.sent) >= interval {
			f.sent = now
			list = append(list, resend{id, f.item})
		}
	}
	s.mu.Unlock()
	if len(list) == 0 {
		return
	}
	s.conn.Write(func(buf []byte) []byte {
		for _, r := range list {
			expiry, err := decodeMessage(r.item, &pub)
			if err == nil {
				buf = s.appendDecoded(buf, &pub, expiry, r.id, true, now)
			}
		}
		return buf
	})
}

// OnAck handles PUBACK, PUBREC and PUBCOMP of outbound messages and PUBREL of inbound ones.
func (s *session) OnAck(c *mqttc.Conn, a *codec.Ack) {
	b := s.b
	switch a.Type {
	case codec.TypePuback, codec.TypePubrec:
		s.mu.Lock()
		f := s.flights[a.PacketID]
		if f == nil {
			s.mu.Unlock()
			if a.Type == codec.TypePubrec { // a PUBREC repeated: answer it again
				c.Ack(codec.TypePubrel, a.PacketID)
			}
			return
		}
		delete(s.flights, a.PacketID)
		s.inflight--
		f.batch.left--
		if f.batch.left == 0 {
			s.batches--
		}
		rec := a.Type == codec.TypePubrec && f.qos == 2
		if rec {
			s.pubrel[a.PacketID] = struct{}{}
		}
		s.mu.Unlock()
		if a.Code >= 0x80 {
			// The remote refused the message (MQTT 5): it will not get it by resending.
			b.log.Warn("remote refused a bridged message; dropped", "reason", a.Code.Error())
		}
		b.q.Ack(f.seq)
		b.sent.Add(1)
		if rec && a.Code < 0x80 {
			c.Ack(codec.TypePubrel, a.PacketID)
		} else if rec {
			s.mu.Lock()
			delete(s.pubrel, a.PacketID)
			s.mu.Unlock()
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	case codec.TypePubcomp:
		s.mu.Lock()
		delete(s.pubrel, a.PacketID)
		s.mu.Unlock()
	case codec.TypePubrel:
		s.mu.Lock()
		delete(s.inbound, a.PacketID)
		s.mu.Unlock()
		c.Ack(codec.TypePubcomp, a.PacketID)
	}
}

// OnPublish publishes a message of a remote subscription locally, then acknowledges it.
func (s *session) OnPublish(c *mqttc.Conn, p *codec.Publish) {
	b := s.b
	if p.QoS == 2 {
		s.mu.Lock()
		_, seen := s.inbound[p.PacketID]
		s.inbound[p.PacketID] = struct{}{}
		s.mu.Unlock()
		if seen { // a resend of a message published already
			c.Ack(codec.TypePubrec, p.PacketID)
			return
		}
	}
	p.Dup = false
	p.Props.TopicAlias = 0
	if _, err := b.sub.PublishPacket(p); err != nil {
		b.log.Warn("bridge cannot publish a remote message locally; dropped", "topic", string(p.Topic), "error", err)
	} else {
		b.received.Add(1)
	}
	switch p.QoS {
	case 1:
		c.Ack(codec.TypePuback, p.PacketID)
	case 2:
		c.Ack(codec.TypePubrec, p.PacketID)
	}
}

// OnSuback logs the remote's refusals.
func (s *session) OnSuback(c *mqttc.Conn, sa *codec.Suback) {
	for i, code := range sa.Codes {
		if code >= 0x80 {
			s.b.log.Warn("remote refused a bridge subscription", "index", i, "reason", code.Error())
		}
	}
}

// OnClose keeps the PUBRELs waiting for PUBCOMP, for a session the remote resumes.
func (s *session) OnClose(c *mqttc.Conn, err error) {
	s.mu.Lock()
	m := make(map[uint16]struct{}, len(s.pubrel))
	for id := range s.pubrel {
		m[id] = struct{}{}
	}
	s.mu.Unlock()
	s.b.mu.Lock()
	s.b.pubrel = m
	s.b.mu.Unlock()
}
