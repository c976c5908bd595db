package engine

import (
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// PublishPacket routes p on behalf of the subscriber as Publish does, carrying the MQTT 5
// properties a subscriber receives (payload format, message expiry, content type, response
// topic, correlation data, user properties): a bridge brings a remote broker's messages in
// with it. p is only read during the call (its bytes are copied once). The subscriber's own
// NoLocal subscriptions do not receive the message. Safe from any goroutine; never call it
// from an event loop callback.
func (sub *Subscriber) PublishPacket(p *codec.Publish) (int, error) {
	if err := codec.ValidTopicName(p.Topic); err != nil {
		return 0, err
	}
	if tooDeep(p.Topic, trie.MaxLevels) {
		return 0, errIndexLevels
	}
	if p.QoS > 2 {
		return 0, codec.QoSNotSupported
	}
	msg := sessions.NewMessage(p, p.Topic, sub.opts.Name, time.Now().UnixNano())
	if p.Retain {
		sub.n.retain(nil, msg, false)
	}
	return sub.n.sideRoute(msg, sub.s, nil), nil
}
