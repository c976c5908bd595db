package bridge

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// A queued message is the message's expiry (8 bytes, unix nanoseconds, 0 for none) followed
// by the message as an MQTT 5 PUBLISH packet (local topic, QoS, retain, the properties a
// subscriber receives, payload): the codec writes and reads it, and it keeps everything any
// remote version can carry.

// appendMessage appends the queue item of a message delivered with QoS qos and retain flag.
func appendMessage(dst []byte, m *sessions.Message, qos byte, retain bool) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Expiry))
	p := codec.Publish{QoS: qos, Retain: retain, Topic: m.Topic, Payload: m.Payload}
	if qos > 0 {
		p.PacketID = 1 // a valid packet; the real one is chosen when sent
	}
	if m.Props != nil {
		p.Props = *m.Props
	}
	return codec.AppendPublish(dst, &p, codec.V5)
}

var errShortItem = errors.New("bridge: queued item shorter than its header")

// decodeMessage reads a queue item into p, whose byte fields borrow item.
func decodeMessage(item []byte, p *codec.Publish) (expiry int64, err error) {
	if len(item) < 8 {
		return 0, errShortItem
	}
	expiry = int64(binary.BigEndian.Uint64(item))
	return expiry, p.Decode(item[8:], codec.V5)
}

// decodeForSend decodes a queue item into p for sending at now. ok is false when the item
// must leave the queue unsent, counted as expired: it does not decode (logged), or its
// message expiry has passed. Called from a bridge's worker goroutine.
func (b *Bridge) decodeForSend(item []byte, p *codec.Publish, now time.Time) (expiry int64, ok bool) {
	expiry, err := decodeMessage(item, p)
	switch {
	case err != nil:
		b.log.Error("BUG: bridge queue item does not decode; dropped", "error", err)
		b.expired.Add(1)
		return 0, false
	case expiry != 0 && expiry <= now.UnixNano():
		b.expired.Add(1)
		return 0, false
	}
	return expiry, true
}
