package engine

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/rewrite"
	"github.com/emqgo/emqgo/trie"
)

// The two modules of EMQX's etc/emqx.conf that act inside the connection state machine:
//
// module.subscription subscribes every client that connects (CONNACK 0) to the configured
// topics, as EMQX 4's emqx_mod_subscription does on client.connected. The subscriptions take
// the path of a SUBSCRIBE (session, durable store for a persistent session, trie,
// max_subscriptions, max_qos_allowed, the mountpoint, retained messages per Retain Handling,
// sent after the CONNACK and after the resumed session's messages) but no SUBACK is sent.
// As in EMQX, they are not checked against the ACL nor against the zone's wildcard, shared
// and topic-level limits, and rewrite rules do not apply to them: the operator wrote them.
// nl, rap and rh apply to MQTT 5 clients only; MQTT 3.x clients get qos alone (EMQX does the
// same). A session resumed with its subscriptions is subscribed again, which changes nothing
// unless the options changed (Retain Handling 0 sends the retained messages again).
//
// A template's %c and %u are replaced by the client id and the user name wherever they occur
// (as in mountpoints; EMQX replaces whole levels only). A template is skipped for a client
// when the result would not be what the operator meant: %u with no user name (EMQX would
// subscribe to the literal "%u"), a client id or user name containing '+' or '#' (it would
// widen the subscription to other clients' topics), or a result that is not a valid topic
// filter. The first skip of each template is logged at info, later ones at debug.
//
// module.rewrite renames topics by rules (see package rewrite for their semantics): publish
// rules (module.rewrite.rule.N and module.rewrite.pub.rule.N, in that order) apply to the
// topic of each PUBLISH, after topic alias resolution, and to the will topic; subscribe rules
// (module.rewrite.rule.N and module.rewrite.sub.rule.N) apply to each SUBSCRIBE and
// UNSUBSCRIBE filter, inside a $share/<group>/ or $queue/ prefix. Rules see the topic as the
// client wrote it, before the mountpoint. Everything after the rewrite sees the rewritten
// topic: max_topic_levels, the ACL, the mountpoint, routing and the retained store. (EMQX
// checks the ACL before rewriting, so that a rule can move a client into topics its ACL
// denies; here the ACL always judges the topic the message or subscription really gets.)
// A rewrite whose result is not a valid topic name (publish, will) or filter is treated like
// an invalid topic from the client: a PUBLISH closes the connection (MQTT 5: DISCONNECT 0x90),
// a will refuses the CONNECT, a SUBSCRIBE or UNSUBSCRIBE filter gets 0x8F (MQTT 3.x: 0x80).
//
// Both modules cost a nil or length check when they are off.

// AutoSubscription is one topic of the subscription module (module.subscription.N.*).
type AutoSubscription struct {
	Topic             string // template; %c is the client id, %u the user name
	QoS               uint8
	NoLocal           bool // MQTT 5 clients only, as the two options below
	RetainAsPublished bool
	RetainHandling    uint8
}

// moduleState is the node's mutable state of the modules: which skipped templates were
// logged. Its fields are safe for concurrent use.
type moduleState struct {
	skipLogged []atomic.Bool // per AutoSubscription
}

// autoSubscribe subscribes the connection to the subscription module's topics and sends the
// retained messages they ask for. Runs on the connection's loop, after the CONNACK.
func (c *conn) autoSubscribe() {
	n := c.loop.n
	for i := range n.cfg.AutoSubscriptions {
		a := &n.cfg.AutoSubscriptions[i]
		filter, why := expandTemplate(a.Topic, c.clientID, c.username)
		if why != "" {
			level := slog.LevelDebug
			if i < len(n.mods.skipLogged) && !n.mods.skipLogged[i].Swap(true) {
				level = slog.LevelInfo
			}
			if n.log.Enabled(context.Background(), level) {
				n.log.Log(context.Background(), level, "module.subscription: topic skipped for a client (logged once at info per topic)",
					"topic", a.Topic, "client", c.clientID, "username", c.username, "cause", why)
			}
			continue
		}
		o := trie.Options{QoS: a.QoS}
		if c.version == codec.V5 {
			o.NoLocal, o.RetainAsPublished, o.RetainHandling = a.NoLocal, a.RetainAsPublished, a.RetainHandling
		}
		code, mounted, retained := c.addSubscription([]byte(filter), o)
		if code >= 0x80 {
			n.log.Info("module.subscription: cannot subscribe a client", "topic", filter, "client", c.clientID, "cause", code.String())
			continue
		}
		if retained {
			c.sendRetained(mounted, uint8(code), 0)
		}
		if c.state != stateConnected {
			return // closed while sending (slow consumer)
		}
	}
}

// expandTemplate replaces %c and %u in a module.subscription topic. why says why the result
// must not be used ("" when it may).
func expandTemplate(tmpl, clientID, username string) (filter, why string) {
	if !strings.Contains(tmpl, "%") {
		return tmpl, ""
	}
	if strings.Contains(tmpl, "%c") {
		if strings.ContainsAny(clientID, "+#") {
			return "", "the client id contains a wildcard"
		}
		tmpl = strings.ReplaceAll(tmpl, "%c", clientID)
	}
	if strings.Contains(tmpl, "%u") {
		switch {
		case username == "":
			return "", "the client has no user name"
		case strings.ContainsAny(username, "+#"):
			return "", "the user name contains a wildcard"
		}
		tmpl = strings.ReplaceAll(tmpl, "%u", username)
	}
	if err := codec.ValidTopicFilter([]byte(tmpl)); err != nil {
		return "", strconv.Quote(tmpl) + " is not a valid topic filter: " + err.Error()
	}
	return tmpl, ""
}

// rewriteTopic applies the publish rewrite rules to a topic name (PUBLISH or will). The
// result is topic itself when no rule rewrites it, else a new slice. A result that is not a
// valid topic name is an error carrying TopicNameInvalid.
func rewriteTopic(rw *rewrite.Rules, topic []byte) ([]byte, error) {
	out, changed := rw.Apply(nil, topic)
	if !changed {
		return topic, nil
	}
	if err := codec.ValidTopicName(out); err != nil {
		return nil, &codec.Error{Code: codec.TopicNameInvalid, Reason: "module.rewrite turned topic " + strconv.Quote(string(topic)) +
			" into " + strconv.Quote(string(out)) + ", which is not a valid topic name: " + err.Error()}
	}
	return out, nil
}

// rewriteFilter applies the subscribe rewrite rules to a SUBSCRIBE or UNSUBSCRIBE filter,
// keeping a $share/<group>/ or $queue/ prefix. The result is filter itself when no rule
// rewrites it, else a new slice; ok is false when the result is not a valid filter.
func rewriteFilter(rw *rewrite.Rules, filter []byte) (out []byte, ok bool) {
	prefix := 0
	if _, f, shared := codec.SplitShared(filter); shared {
		prefix = len(filter) - len(f)
	} else if strings.HasPrefix(string(filter), "$queue/") {
		prefix = len("$queue/")
	}
	out, changed := rw.Apply(nil, filter[prefix:])
	if !changed {
		return filter, true
	}
	if prefix > 0 {
		out = append(append(make([]byte, 0, prefix+len(out)), filter[:prefix]...), out...)
	}
	return out, codec.ValidTopicFilter(out) == nil
}
