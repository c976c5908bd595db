package sessions

import (
	"github.com/emqgo/emqgo/codec"
)

// Message is one application message as the broker routes it: built once per publish from
// the decoded PUBLISH (one copy of every byte), then shared read-only by every session it is
// queued in, on every loop. Never modify a Message after NewMessage returns it.
type Message struct {
	Topic   []byte
	Payload []byte
	// Props are the MQTT 5 properties forwarded to subscribers unchanged (payload format,
	// content type, response topic, correlation data, user properties), nil when none. The
	// message expiry is kept in Expiry instead, so that each delivery sends what remains.
	Props *codec.Properties
	// From is the client identifier of the publisher ("" for messages the broker itself
	// publishes), for No Local, ignore_loop_deliver and the hash shared strategy.
	From string
	// QoS and Retain are as published.
	QoS    uint8
	Retain bool
	// Created is when the broker received the message (unix nanoseconds).
	Created int64
	// Expiry is when the message expires (unix nanoseconds), 0 for never (MQTT 5 Message
	// Expiry Interval, or the retainer's expiry for retained copies).
	Expiry int64

	// id and refs belong to the durable store (Store.PutEntry): the message's identifier in
	// the store, 0 until first stored, and how many stored session entries reference its
	// body. Accessed atomically. A Message may be copied only before it is first stored.
	id   uint64
	refs int32
}

// forwarded lists the properties of an inbound PUBLISH that subscribers receive.
var forwarded = [...]codec.PropertyID{codec.PropPayloadFormat, codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData}

// NewMessage copies a decoded PUBLISH (whose bytes are borrowed from a read buffer) into a
// Message that owns its bytes: topic, payload and property bytes share one allocation.
// topic is the effective topic (after topic-alias resolution and mountpoint), which may
// differ from p.Topic. now is the receive time in unix nanoseconds.
func NewMessage(p *codec.Publish, topic []byte, from string, now int64) *Message {
	pr := &p.Props
	size := len(topic) + len(p.Payload)
	hasProps := false
	for _, id := range forwarded {
		if pr.Has(id) {
			hasProps = true
		}
	}
	if len(pr.User) > 0 {
		hasProps = true
	}
	if hasProps {
		size += len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData)
		for _, u := range pr.User {
			size += len(u.Key) + len(u.Value)
		}
	}
	buf := make([]byte, 0, size)
	take := func(b []byte) []byte {
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	m := &Message{
		From:    from,
		QoS:     p.QoS,
		Retain:  p.Retain,
		Created: now,
	}
	m.Topic = take(topic)
	m.Payload = take(p.Payload)
	if pr.Has(codec.PropMessageExpiry) && pr.MessageExpiry > 0 {
		m.Expiry = now + int64(pr.MessageExpiry)*1e9
	}
	if hasProps {
		var np codec.Properties
		if pr.Has(codec.PropPayloadFormat) {
			np.SetPayloadFormat(pr.PayloadFormat)
		}
		if pr.Has(codec.PropContentType) {
			np.SetContentType(take(pr.ContentType))
		}
		if pr.Has(codec.PropResponseTopic) {
			np.SetResponseTopic(take(pr.ResponseTopic))
		}
		if pr.Has(codec.PropCorrelationData) {
			np.SetCorrelationData(take(pr.CorrelationData))
		}
		if len(pr.User) > 0 {
			np.User = make([]codec.UserProperty, len(pr.User))
			for i, u := range pr.User {
				np.User[i] = codec.UserProperty{Key: take(u.Key), Value: take(u.Value)}
			}
		}
		m.Props = &np
	}
	return m
}

// Expired reports whether the message has expired at unix-nanosecond time now.
func (m *Message) Expired(now int64) bool { return m.Expiry != 0 && now >= m.Expiry }

// RemainingExpiry returns the Message Expiry Interval to send at time now, in seconds
// (rounded up, at least 1), and false when the message has no expiry.
func (m *Message) RemainingExpiry(now int64) (uint32, bool) {
	if m.Expiry == 0 {
		return 0, false
	}
	left := m.Expiry - now
	if left <= 0 {
		return 1, true
	}
	return uint32((left + 1e9 - 1) / 1e9), true
}

// Size returns the bytes the message holds, for limits and metrics.
func (m *Message) Size() int { return len(m.Topic) + len(m.Payload) }
