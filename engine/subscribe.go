package engine

import (
	"bytes"
	"strings"
	"sync"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// handleSubscribe grants or refuses each filter of a SUBSCRIBE, answers SUBACK, then sends
// the retained messages the new subscriptions ask for.
//
// The checks come first, for every filter (strict_mode, topic rewrite, zone rules, access):
// when one access decision must wait for the access-control chain, the whole packet is parked
// (errParked) before any of it takes effect, and handled again from the start with the answers.
func (c *conn) handleSubscribe(pkt []byte) error {
	l := c.loop
	n := l.n
	p := &l.sub
	if err := p.Decode(pkt, c.version); err != nil {
		return err
	}
	if !c.fits(c.ackCodesSize(len(p.Subs))) {
		return c.refuseAckTooLarge("SUBACK", len(p.Subs))
	}
	codes := l.subCodes[:0] // per filter: 0 to grant, or the failure (MQTT 5 code)
	pending := l.aclReqs[:0]
	strict := c.lis.Zone.StrictMode
	for i := range p.Subs {
		sub := &p.Subs[i]
		code := codec.ReasonCode(0)
		if strict && codec.StrictUTF8(sub.Filter) != nil {
			code = codec.TopicFilterInvalid // strict_mode: the filter as the client sent it
		} else if rw := n.cfg.RewriteSubscribe; rw != nil {
			if f, ok := rewriteFilter(rw, sub.Filter); ok {
				sub.Filter = f // the ACL, the mountpoint and the trie see the rewritten filter
			} else {
				code = codec.TopicFilterInvalid
			}
		}
		if code == 0 {
			var aclTopic []byte
			if code, aclTopic = c.checkFilter(sub); code == 0 {
				switch n.authorize(c, acl.Subscribe, aclTopic) {
				case aclPending:
					pending = append(pending, aclDecision{access: acl.Subscribe, topic: string(aclTopic)})
				case aclDeny:
					code = codec.NotAuthorized
				}
			}
		}
		codes = append(codes, code)
	}
	l.subCodes, l.aclReqs = codes, pending
	if len(pending) > 0 {
		if c.parkACL(pending) {
			return errParked
		}
		err := c.handleSubscribe(pkt) // denied at once: the side pool is full
		c.ext.decided = nil
		return err
	}

	l.stats.Subscribe++
	var subID uint32
	if len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	ack := &l.suback
	ack.Reset()
	ack.PacketID = p.PacketID

	type retainedReq struct {
		filter string
		qos    uint8
		subID  uint32
	}
	var wantRetained []retainedReq

	for i := range p.Subs {
		sub := &p.Subs[i]
		if code := codes[i]; code != 0 {
			l.stats.SubRefused++
			if code == codec.NotAuthorized {
				l.stats.AclDenied++
			}
			ack.Codes = append(ack.Codes, c.subFailure(code))
			continue
		}
		o := trie.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, SubID: subID}
		code, filter, retained := c.addSubscription(sub.Filter, o)
		if code >= 0x80 {
			ack.Codes = append(ack.Codes, c.subFailure(code))
			continue
		}
		ack.Codes = append(ack.Codes, code)
		if retained {
			wantRetained = append(wantRetained, retainedReq{filter, uint8(code), subID})
		}
	}
	c.write(codec.AppendSuback(c.buf(), ack, c.version))
	l.stats.Suback++

	for _, r := range wantRetained {
		c.sendRetained(r.filter, r.qos, r.subID)
	}
	return nil
}

// addSubscription subscribes the connection's session to filter (as the client sees it: the
// mountpoint is applied here) with options o, where o.QoS is the requested QoS, lowered to
// max_qos_allowed. It records the subscription in the session, in the durable store for a
// persistent session, and in the trie. code is the granted QoS, or QuotaExceeded
// (max_subscriptions) or TopicFilterInvalid (refused by the trie) before subFailure. When
// the new subscription asks for retained messages now (Retain Handling 0, or 1 for a new
// subscription; never for a shared one), retained is true and the caller sends them with
// sendRetained(mounted, granted QoS, …) once its own answer is written. SUBSCRIBE and the
// subscription module share it; it runs on the connection's loop and takes the session lock.
func (c *conn) addSubscription(filter []byte, o trie.Options) (code codec.ReasonCode, mounted string, retained bool) {
	l := c.loop
	n := l.n
	z := c.lis.Zone
	s := c.sess
	o.QoS = min(o.QoS, z.MaxQoSAllowed)
	mounted = c.mountFilter(filter)
	s.Lock()
	if s.Owner != c || s.Gone {
		// Taken over by a connection on another loop whose close of this one has not run
		// yet: the session is no longer this connection's to change, and a route added to a
		// session that ended would never be removed (stale_route_test.go).
		s.Unlock()
		l.stats.SubRefused++
		return codec.UnspecifiedError, mounted, false
	}
	have, existed := s.Subscription(mounted) // constant time: no O(N²) for N filters
	same := existed && have == o
	if !existed && z.MaxSubscriptions > 0 && len(s.Subs) >= z.MaxSubscriptions {
		s.Unlock()
		l.stats.SubRefused++
		return codec.QuotaExceeded, mounted, false
	}
	// The route is added under the session lock, as discardLocked removes the routes: a
	// session ended meanwhile cannot keep it.
	if _, err := n.indexSubscribe(mounted, s, o); err != nil {
		s.Unlock()
		return codec.TopicFilterInvalid, mounted, false
	}
	s.Subscribe(mounted, o)
	if s.Durable.Load() && !same { // an identical record is already stored
		n.dur.subscribed(s, mounted, o)
	}
	s.Unlock()
	// Retained messages: never for shared subscriptions; Retain Handling 0 always, 1 only
	// for a new subscription, 2 never [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
	retained = !isShared(filter) && n.cfg.RetainerMaxMessages >= 0 && (o.RetainHandling == 0 || o.RetainHandling == 1 && !existed)
	if h := l.hooks; h != nil {
		for _, f := range h.subscribed {
			f(s.ClientID, mounted, o)
		}
	}
	return codec.ReasonCode(o.QoS), mounted, retained
}

// checkFilter applies the zone's rules to one requested subscription. It returns 0 when the
// subscription may be granted, with the topic its access check is about (the filter without a
// $share/$queue prefix, under the mountpoint), or the failure code (MQTT 5). No side effect.
func (c *conn) checkFilter(sub *codec.Subscription) (codec.ReasonCode, []byte) {
	z := c.lis.Zone
	_, f, shared := codec.SplitShared(sub.Filter)
	if !shared {
		f = sub.Filter
		if bytes.HasPrefix(f, []byte("$queue/")) {
			shared, f = true, f[len("$queue/"):]
		}
	}
	if shared && !z.SharedSubscription {
		return codec.SharedSubscriptionsNotSupported, nil
	}
	if !z.WildcardSubscription && bytes.ContainsAny(f, "+#") {
		return codec.WildcardSubscriptionsNotSupported, nil
	}
	if tooDeep(f, z.topicLevelLimit()) {
		return codec.TopicFilterInvalid, nil
	}
	return 0, c.mountBytes(f)
}

// subFailure maps a failure to what the client's version can carry: MQTT 3.x has only 0x80.
func (c *conn) subFailure(code codec.ReasonCode) codec.ReasonCode {
	if c.version == codec.V5 {
		return code
	}
	return codec.UnspecifiedError
}

// mountFilter applies the mountpoint to a filter, inside a $share/$queue prefix.
func (c *conn) mountFilter(filter []byte) string {
	if c.lis.Zone.Mountpoint == "" {
		return string(filter)
	}
	if group, f, ok := codec.SplitShared(filter); ok {
		return "$share/" + string(group) + "/" + string(c.mountBytes(f))
	}
	if rest, ok := strings.CutPrefix(string(filter), "$queue/"); ok {
		return "$queue/" + string(c.mountBytes([]byte(rest)))
	}
	return string(c.mountBytes(filter))
}

func (c *conn) mountBytes(f []byte) []byte { return c.loop.n.mount(c.lis.Zone, c, f) }

// sendRetained delivers the retained messages matching filter with the RETAIN flag set
// [MQTT-3.3.1-8]. It takes them from the index in batches and sends each batch with no index
// lock held, so a retained PUBLISH on another loop never waits for this replay (nor for the
// session lock it takes), and a "#" over a million retained topics costs one batch of
// memory. A message the index hands out stays valid after the lock is released, even if it
// is replaced meanwhile: the index keeps only pinned or unpooled messages (Node.retain).
func (c *conn) sendRetained(filter string, qos uint8, subID uint32) {
	l := c.loop
	s := c.sess
	var ids []uint32
	if subID != 0 {
		ids = []uint32{subID}
	}
	rp := retainedReplays.Get().(*retainedReplay)
	defer rp.done()
	if rp.cur.Start(l.n.retained, filter) != nil {
		return // checked when subscribed
	}
	for !rp.cur.Done() {
		batch := rp.cur.Next(rp.batch[:0], retainedBatch)
		s.Lock()
		for _, m := range batch {
			if m.Expired(l.now) {
				continue
			}
			if s.Owner == c && c.state == stateConnected {
				c.send(sessions.Queued{Msg: m, QoS: min(m.QoS, qos), Retain: true, SubIDs: ids})
			}
			l.stats.RetainedSent++
		}
		s.Unlock()
		clear(batch)
	}
}

// retainedBatch is how many retained messages a replay takes from the index at a time.
const retainedBatch = 256

// retainedReplay is the scratch of one retained replay, pooled so that a SUBSCRIBE
// allocates nothing for it once warm.
type retainedReplay struct {
	cur   trie.RetainedCursor[*sessions.Message]
	batch []*sessions.Message
}

var retainedReplays = sync.Pool{New: func() any {
	return &retainedReplay{batch: make([]*sessions.Message, 0, retainedBatch)}
}}

func (rp *retainedReplay) done() {
	rp.cur.Reset()
	retainedReplays.Put(rp)
}

// handleUnsubscribe removes each filter and answers UNSUBACK.
func (c *conn) handleUnsubscribe(pkt []byte) error {
	l := c.loop
	n := l.n
	p := &l.unsub
	if err := p.Decode(pkt, c.version); err != nil {
		return err
	}
	if !c.fits(c.ackCodesSize(len(p.Filters))) {
		return c.refuseAckTooLarge("UNSUBACK", len(p.Filters))
	}
	strict := c.lis.Zone.StrictMode
	if strict && c.version != codec.V5 {
		for _, f := range p.Filters {
			if err := codec.StrictUTF8(f); err != nil {
				// An MQTT 3.x UNSUBACK has no code to refuse a filter with: close, before
				// any filter of the packet takes effect.
				return &codec.Error{Code: codec.TopicFilterInvalid, Reason: "UNSUBSCRIBE topic filter: " + err.Error()}
			}
		}
	}
	l.stats.Unsubscribe++
	ack := codec.Unsuback{PacketID: p.PacketID}
	s := c.sess
	for _, f := range p.Filters {
		if strict && c.version == codec.V5 && codec.StrictUTF8(f) != nil {
			ack.Codes = append(ack.Codes, codec.TopicFilterInvalid)
			continue
		}
		if rw := n.cfg.RewriteSubscribe; rw != nil {
			var ok bool
			if f, ok = rewriteFilter(rw, f); !ok {
				ack.Codes = append(ack.Codes, codec.TopicFilterInvalid)
				continue
			}
		}
		filter := c.mountFilter(f)
		s.Lock()
		// Only while the session is this connection's (see addSubscription); the route goes
		// under the lock, as it came.
		existed := s.Owner == c && !s.Gone && s.Unsubscribe(filter)
		if existed {
			if s.Durable.Load() {
				n.dur.unsubscribed(s, filter)
			}
			n.indexUnsubscribe(filter, s)
		}
		s.Unlock()
		if existed {
			ack.Codes = append(ack.Codes, codec.Success)
			if h := l.hooks; h != nil {
				for _, f := range h.unsubscribed {
					f(s.ClientID, filter)
				}
			}
		} else {
			ack.Codes = append(ack.Codes, codec.NoSubscriptionExisted)
		}
	}
	c.write(codec.AppendUnsuback(c.buf(), &ack, c.version))
	l.stats.Unsuback++
	return nil
}

// isShared reports whether filter is a shared subscription ($share/<group>/... or $queue/...).
func isShared(filter []byte) bool {
	return bytes.HasPrefix(filter, []byte("$share/")) || bytes.HasPrefix(filter, []byte("$queue/"))
}
