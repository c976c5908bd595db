package sys

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Stat is one statistic under EMQX's name ("connections.count").
type Stat struct {
	Name  string
	Value int64
}

// Stats returns the node's statistics under EMQX's names, as published under stats/...
// EMQX counts subscribers and subscription options per subscription, so both equal the
// subscription count here; topics and routes are both the distinct filters subscribed to.
func Stats(n *engine.Node) []Stat {
	st := n.Stats()
	return []Stat{
		{"connections.count", st.Connections},
		{"connections.max", st.ConnectionsMax},
		{"sessions.count", st.Sessions},
		{"sessions.max", st.SessionsMax},
		{"sessions.persistent.count", st.PersistentSessions},
		{"sessions.persistent.max", st.PersistentMax},
		{"suboptions.count", st.Subscriptions},
		{"suboptions.max", st.SubscriptionsMax},
		{"subscribers.count", st.Subscriptions},
		{"subscribers.max", st.SubscriptionsMax},
		{"subscriptions.count", st.Subscriptions},
		{"subscriptions.max", st.SubscriptionsMax},
		{"subscriptions.shared.count", st.SharedSubscriptions},
		{"subscriptions.shared.max", st.SharedMax},
		{"topics.count", st.Topics},
		{"topics.max", st.TopicsMax},
		{"routes.count", st.Topics},
		{"routes.max", st.TopicsMax},
		{"retained.count", st.Retained},
	}
}

// levels turns a dotted metric or statistic name into topic levels: "messages.qos2.dropped"
// becomes "messages/qos2/dropped".
func levels(name string) string { return strings.ReplaceAll(name, ".", "/") }

// publishAll publishes everything of an interval: the node list, the broker's description,
// the heartbeat topics, every statistic and every metric. As in EMQX, $SYS/brokers, version
// and sysdescr are retained, the rest is not; all at QoS 0.
func (s *Service) publishAll() {
	nodes := s.n.Name()
	if s.opts.Nodes != nil {
		nodes = strings.Join(s.opts.Nodes(), ",")
	}
	s.publish("$SYS/brokers", []byte(nodes), 0, true)
	s.publish(s.base+"version", []byte(engine.Version), 0, true)
	s.publish(s.base+"sysdescr", []byte(engine.SysDescr), 0, true)
	s.publishHeartbeat()
	var buf []byte
	for _, st := range Stats(s.n) {
		buf = strconv.AppendInt(buf[:0], st.Value, 10)
		s.publish(s.base+"stats/"+levels(st.Name), buf, 0, false)
	}
	for _, m := range s.n.Metrics() {
		buf = strconv.AppendUint(buf[:0], m.Value, 10)
		s.publish(s.base+"metrics/"+levels(m.Name), buf, 0, false)
	}
}

// publishHeartbeat publishes uptime ("1 days, 2 hours, 3 minutes, 4 seconds") and datetime
// ("2006-01-02 15:04:05", local time), as EMQX does.
func (s *Service) publishHeartbeat() {
	s.publish(s.base+"uptime", []byte(Uptime(s.n.Uptime())), 0, false)
	s.publish(s.base+"datetime", []byte(time.Now().Format(time.DateTime)), 0, false)
}

// Uptime writes d as EMQX does: "1 days, 2 hours, 3 minutes, 4 seconds", leaving out leading
// zero units.
func Uptime(d time.Duration) string {
	secs := int64(d / time.Second)
	units := [...]struct {
		v    int64
		name string
	}{{secs / 86400, "days"}, {secs / 3600 % 24, "hours"}, {secs / 60 % 60, "minutes"}, {secs % 60, "seconds"}}
	var b strings.Builder
	for _, u := range units {
		if b.Len() == 0 && u.v == 0 && u.name != "seconds" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", u.v, u.name)
	}
	return b.String()
}
