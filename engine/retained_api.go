package engine

import (
	"errors"
	"time"

	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// RetainedMessage is a copy of one retained message, for the management API and the
// dashboard. Its slices are the caller's.
type RetainedMessage struct {
	Topic   string
	Payload []byte
	QoS     uint8
	From    string    // publisher's client id; "" for the broker or the API
	Created time.Time // when the broker received it
	Expiry  time.Time // zero: never expires
}

// ErrNoRetained is DeleteRetained's answer for a topic that has no retained message.
var ErrNoRetained = errors.New("engine: no retained message on this topic")

// RetainedMessages lists the retained messages whose topic filter matches (a filter with
// wildcards, or a topic name; "#" lists all but '$' topics, as a subscription would), skipping
// expired ones: limit of them after skipping offset (limit 0: all), with the number that
// matched in all. Order is the index's (not sorted). Payloads are copied, so a page costs
// its size in memory; the index's shards are read-locked only while they are walked, one at
// a time. Safe from any goroutine but an event loop callback.
func (n *Node) RetainedMessages(filter string, offset, limit int) (total int, out []RetainedMessage, err error) {
	now := time.Now().UnixNano()
	err = n.retained.Match(filter, func(topic string, m *sessions.Message) bool {
		if m.Expired(now) {
			return true
		}
		total++
		if total > offset && (limit <= 0 || len(out) < limit) {
			out = append(out, retainedCopy(topic, m))
		}
		return true
	})
	if errors.Is(err, trie.ErrInvalidFilter) {
		return 0, nil, errors.New("engine: bad topic filter " + filter)
	}
	return total, out, err
}

// Retained returns the retained message of topic (a topic name), false when there is none
// or it expired. Safe from any goroutine.
func (n *Node) Retained(topic string) (RetainedMessage, bool) {
	m, ok := n.retained.Get(topic)
	if !ok || m.Expired(time.Now().UnixNano()) {
		return RetainedMessage{}, false
	}
	return retainedCopy(topic, m), true
}

// DeleteRetained removes the retained message of topic from memory and from the durable
// store, as a retained PUBLISH with an empty payload does, but without routing anything to
// subscribers. ErrNoRetained when the topic has none. Safe from any goroutine but an event
// loop callback.
func (n *Node) DeleteRetained(topic string) error {
	if _, ok := n.retained.Get(topic); !ok {
		return ErrNoRetained
	}
	// An empty payload is retain's deletion; the message is never kept or routed.
	return n.retain(nil, &sessions.Message{Topic: []byte(topic)}, false)
}

func retainedCopy(topic string, m *sessions.Message) RetainedMessage {
	r := RetainedMessage{Topic: topic, Payload: append([]byte{}, m.Payload...), QoS: m.QoS, From: m.From,
		Created: time.Unix(0, m.Created)}
	if m.Expiry != 0 {
		r.Expiry = time.Unix(0, m.Expiry)
	}
	return r
}
