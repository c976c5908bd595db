package engine

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Failed TLS handshakes are counted (connections.refused.tls_handshake) and logged per
// listener: the first failure of an interval at once, with the peer and the reason, and the
// others as one summary line per interval (summariseTLS), so that a flood of bad clients does
// not become a flood of log lines.

// handshakeFailures is a listener's failed handshakes since its last log line.
type handshakeFailures struct {
	mu       sync.Mutex
	lastLine time.Time
	counts   map[string]int // by reason, since lastLine
	example  string         // a peer of the failures counted
}

// note records one failure; it logs it at once when nothing was logged for the interval.
func (f *handshakeFailures) note(n *Node, ls *listenerState, peer net.Addr, reason string) {
	now := time.Now()
	f.mu.Lock()
	if now.Sub(f.lastLine) >= admissionSummaryInterval && len(f.counts) == 0 {
		f.lastLine = now
		f.mu.Unlock()
		n.log.Warn("TLS handshake failed", "listener", ls.Kind+":"+ls.Name, "peer", peer.String(), "reason", reason)
		return
	}
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[reason]++
	f.example = peer.String()
	f.mu.Unlock()
}

// summariseTLS logs, per TLS listener, the failures counted but not logged, once an interval
// has passed since its last line. Called from the ticker goroutine (and by tests).
func (n *Node) summariseTLS(now time.Time) {
	for _, s := range n.tls.servers {
		f := &s.fail
		f.mu.Lock()
		if len(f.counts) == 0 || now.Sub(f.lastLine) < admissionSummaryInterval {
			f.mu.Unlock()
			continue
		}
		counts, example, since := f.counts, f.example, now.Sub(f.lastLine)
		f.counts, f.lastLine = nil, now
		f.mu.Unlock()
		args := []any{"listener", s.ls.Kind + ":" + s.ls.Name, "example_peer", example}
		total := 0
		for reason, k := range counts {
			args = append(args, strings.ReplaceAll(reason, " ", "_"), k)
			total += k
		}
		n.log.Warn("TLS handshakes failed in the last "+since.Round(time.Second).String(), append(args, "total", total)...)
	}
}

// handshakeReason names why a server handshake failed, in a few words.
func handshakeReason(err error) string {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var ne net.Error
	if r, ok := pskReason(err); ok {
		return r
	}
	msg := err.Error()
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "client certificate expired or not yet valid"
	case errors.As(err, &inv):
		return "client certificate invalid: " + inv.Error()
	case errors.As(err, &unk):
		return "client certificate untrusted (unknown authority)"
	case strings.Contains(msg, "didn't provide a certificate"):
		return "no client certificate"
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"):
		return "TLS version not allowed"
	case strings.Contains(msg, "no cipher suite"):
		return "no cipher suite in common"
	case strings.Contains(msg, "does not look like a TLS handshake"):
		return "not TLS"
	case strings.Contains(msg, "depth ="):
		return "client certificate chain too long"
	case errors.As(err, &ne) && ne.Timeout():
		return "handshake_timeout"
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), strings.Contains(msg, "connection reset"):
		return "client closed the connection"
	case strings.Contains(msg, "remote error"):
		return "client refused the handshake (" + msg[strings.Index(msg, "remote error"):] + ")"
	}
	return msg
}
