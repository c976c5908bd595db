package engine

import (
	"context"
	"net/netip"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// AuthDecision is what one authenticator says about a client.
type AuthDecision uint8

const (
	// AuthIgnore passes the decision to the next authenticator of the chain (EMQX's
	// "ignore"); when every one ignores, allow_anonymous decides.
	AuthIgnore AuthDecision = iota
	// AuthAllow accepts the client.
	AuthAllow
	// AuthDeny refuses the client with AuthResult.Code.
	AuthDeny
)

// AuthResult is an authenticator's answer.
type AuthResult struct {
	Decision  AuthDecision
	Code      codec.ReasonCode // for AuthDeny: BadUserNameOrPassword, NotAuthorized, Banned...
	Reason    string           // for the log and the MQTT 5 reason string
	Superuser bool             // ACL checks are skipped for superusers
}

// ClientInfo is what an authenticator knows of a connecting client. It is owned by the
// authenticator call (copied out of the read buffer).
type ClientInfo struct {
	ClientID string
	Username string
	Password []byte
	HasPass  bool
	Peer     netip.AddrPort
	Version  codec.Version
	Listener string
	// Local is the listener-side address of the connection (its port is EMQX's %p / %l).
	Local netip.AddrPort
	// Mountpoint is the zone's mountpoint with %c and %u replaced ("" when none).
	Mountpoint string
	// CertCN and CertDN are the common name and the subject (RFC 2253) of the certificate the
	// client presented on a TLS listener (EMQX's %C and %d); "" without one.
	CertCN, CertDN string
}

// Authenticator is one link of the authentication chain (emqx_auth_* plugins). Authenticate
// may block on a network backend: the engine calls it on its side pool, never on an event
// loop, with a deadline in ctx. Implementations must be safe for concurrent use.
type Authenticator interface {
	Name() string
	Authenticate(ctx context.Context, c *ClientInfo) AuthResult
}

// AuthTimeout bounds one run of the authentication chain.
const AuthTimeout = 10 * time.Second

// runAuth runs the chain in order until one authenticator allows or denies; when none
// decides, the zone's allow_anonymous does.
func (n *Node) runAuth(z *Zone, c *ClientInfo, hasUsername bool) AuthResult {
	ctx, cancel := context.WithTimeout(context.Background(), AuthTimeout)
	defer cancel()
	for _, a := range n.authChain() {
		r := a.Authenticate(ctx, c)
		switch r.Decision {
		case AuthAllow:
			return r
		case AuthDeny:
			return n.denied(a, c, r)
		}
		if ctx.Err() != nil {
			return authTimedOut
		}
	}
	return n.anonymous(z, hasUsername)
}

// authTimedOut is the chain's answer when its deadline passed before a link decided.
var authTimedOut = AuthResult{Decision: AuthDeny, Code: codec.ServerUnavailable, Reason: "authentication timed out"}

// denied completes and logs link a's refusal r of client c.
func (n *Node) denied(a Authenticator, c *ClientInfo, r AuthResult) AuthResult {
	if r.Code == 0 {
		r.Code = codec.BadUserNameOrPassword
	}
	if r.Reason == "" {
		r.Reason = "denied by " + a.Name()
	}
	n.log.Info("authentication failed", "client", c.ClientID, "username", c.Username, "peer", c.Peer.String(), "by", a.Name(), "reason", r.Reason)
	return r
}

// anonymous is the decision when no authenticator decided: the zone's allow_anonymous, or
// the node's when the zone does not say.
func (n *Node) anonymous(z *Zone, hasUsername bool) AuthResult {
	allow := n.cfg.AllowAnonymous
	if z.AllowAnonymous != nil {
		allow = *z.AllowAnonymous
	}
	if allow {
		return AuthResult{Decision: AuthAllow}
	}
	if !hasUsername {
		return AuthResult{Decision: AuthDeny, Code: codec.NotAuthorized, Reason: "anonymous clients are not allowed (allow_anonymous = false)"}
	}
	return AuthResult{Decision: AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "no authentication plugin accepted the credentials"}
}

// SetAuthenticators installs the authentication chain, in order (plugins load and unload at
// run time). Safe from any goroutine; connects already past authentication are unaffected.
func (n *Node) SetAuthenticators(chain ...Authenticator) {
	cp := append([]Authenticator(nil), chain...)
	n.auth.Store(&cp)
}

func (n *Node) authChain() []Authenticator {
	if p := n.auth.Load(); p != nil {
		return *p
	}
	return nil
}
