package trace

import (
	"bytes"
	"strings"

	"github.com/emqgo/emqgo/codec"
)

// Live trace topics (beyond EMQX). With Options.Publish set, every line a running trace
// writes to its file is also published, QoS 0 and not retained, to
//
//	$SYS/brokers/<node>/trace/client/<client id>   for a client trace
//	$SYS/brokers/<node>/trace/topic/<topic filter> for a topic trace
//
// the client id or filter escaped into one topic level (EscapeLevel: "t/+" becomes
// "t%2F%2B"). The payload is the line as in the file, without its newline. Subscribing is
// an ordinary $SYS subscription, so acl.conf guards it: the shipped rules allow local
// clients and the dashboard user and deny everyone else $SYS/#. The lines are published
// by the service's writer goroutine through Node.Publish (publisher name PublisherName);
// nothing is published while no trace runs, and the hooks are then not installed at all.
//
// A trace never feeds itself: messages published by the service are left out of topic
// traces and drop lines, and a client trace does not publish the lines of the PUBLISH
// packets that carry trace lines to the traced client (they are written to the file only),
// so a traced client that subscribes to its own trace topic receives each line once.

// PublisherName is the publisher (sessions.Message.From) of the live trace lines.
const PublisherName = "$SYS/trace"

// EscapeLevel turns a client id or a topic filter into a single topic level: '%', '/', '+'
// and '#' become %25, %2F, %2B and %23; everything else is kept. The result is "" only for
// "".
func EscapeLevel(s string) string {
	if !strings.ContainsAny(s, "%/+#") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case '/':
			b.WriteString("%2F")
		case '+':
			b.WriteString("%2B")
		case '#':
			b.WriteString("%23")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TopicOf returns the live topic of the trace of kind and name on the node named node.
func TopicOf(node string, kind Kind, name string) string {
	return "$SYS/brokers/" + node + "/trace/" + string(kind) + "/" + EscapeLevel(name)
}

// publishLine publishes one line of t (without its newline) to t's live topic; nothing when
// the trace has none. Called on the writer goroutine, or on Start's before t is visible.
// Node.Publish copies the payload.
func (s *Service) publishLine(t *trace, line []byte) {
	if t.sysTopic == "" || len(line) == 0 {
		return
	}
	if line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if _, err := s.n.Publish(t.sysTopic, line, 0, false, PublisherName); err != nil {
		s.log.Debug("cannot publish a trace line", "topic", t.sysTopic, "error", err)
	}
}

// carriesTrace reports whether pkt, a whole outbound packet whose fixed header h describes,
// is a PUBLISH to one of the live trace topics (the server never sends topic aliases, so an
// outbound PUBLISH always names its topic).
func (s *Service) carriesTrace(pkt []byte, h codec.Header) bool {
	if !s.opts.Publish || h.Type != codec.TypePublish || h.Total < h.HeaderLen+2 {
		return false
	}
	body := pkt[h.HeaderLen:h.Total]
	n := int(body[0])<<8 | int(body[1])
	if len(body) < 2+n {
		return false
	}
	return bytes.HasPrefix(body[2:2+n], s.sysPrefix)
}
