package engine

import (
	"net/netip"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// LastConnection is what an offline session remembers of its last connection: who connected,
// from where, when, how the connection ended, and its traffic. The node records it when a
// connection closes and leaves its session behind (a persistent session); it is not kept in
// the durable store, so a session loaded at start-up has none until its client connects and
// goes again. Immutable once recorded.
type LastConnection struct {
	Username       string
	Peer           netip.AddrPort
	Listener       string // the listener's name
	Zone           string
	ProtoVersion   codec.Version
	KeepAlive      uint16 // seconds, as in force
	CleanStart     bool
	ConnectedAt    time.Time
	DisconnectedAt time.Time
	// Reason is why the connection ended, in the words of the ClientDisconnected hook
	// ("client sent DISCONNECT", "keep alive timeout", "EOF", ...).
	Reason   string
	Counters ConnCounters
}

// recordLast stores c's facts in its session s as the last connection; on c's loop, with
// s's lock held, when c closes and s outlives it. One allocation per such close.
func (c *conn) recordLast(s *sessions.Session, reason string, now int64) {
	s.Last = &LastConnection{
		Username:       c.username,
		Peer:           c.remote(),
		Listener:       c.lis.Name,
		Zone:           c.lis.Zone.Name,
		ProtoVersion:   c.version,
		KeepAlive:      c.keepAlive,
		CleanStart:     c.has(flagCleanStart),
		ConnectedAt:    time.Unix(0, c.connectedAt),
		DisconnectedAt: time.Unix(0, now),
		Reason:         reason,
		Counters:       c.cnt,
	}
}

// lastOf returns a copy of the last connection recorded in s, nil if none or if a client is
// connected to s now. Hold s's lock.
func lastOf(s *sessions.Session) *LastConnection {
	if s.Owner != nil {
		return nil
	}
	lc, ok := s.Last.(*LastConnection)
	if !ok || lc == nil {
		return nil
	}
	cp := *lc
	return &cp
}

// ReasonWords turns a disconnect reason of the ClientDisconnected hook (and of
// LastConnection.Reason) into EMQX's reason words: "normal" for a DISCONNECT from the
// client, "takeovered", "keepalive_timeout", "tcp_closed" when the peer closed the socket,
// otherwise the reason in lower case with '_' between words. Safe for concurrent use.
func ReasonWords(r string) string {
	switch {
	case r == "client sent DISCONNECT":
		return "normal"
	case r == codec.SessionTakenOver.String():
		return "takeovered"
	case r == codec.KeepAliveTimeout.String() || r == "keep alive timeout":
		return "keepalive_timeout"
	case r == "EOF" || strings.HasSuffix(r, ": EOF") || strings.Contains(r, "connection reset") || strings.Contains(r, "broken pipe"):
		return "tcp_closed"
	}
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(r) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(c)
		} else {
			sep = true
		}
	}
	return b.String()
}
