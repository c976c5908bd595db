package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// The tool's TLS client, made cheap and the same for every broker, so that a connect rate
// ranks the brokers rather than the tool: on this 2-core box the tool's handshakes compete
// with the broker's for the CPUs.
//
//   - The key shares offered are fixed (-tls-curves, X25519 alone by default): Go offers
//     X25519MLKEM768 and X25519 otherwise, and a peer that takes the hybrid (OpenSSL 3.5
//     does) would do a different handshake than one that does not.
//   - The broker's certificate chain is verified against -ca once per distinct chain and the
//     result kept (chainCache); every handshake still checks the server's signature over
//     the handshake with the certificate's key (crypto/tls does it whatever the
//     verification settings), so a broker without the key cannot connect.
//   - What the handshake negotiated (version, key exchange, suite) is recorded once per run
//     (negotiated) and reported next to the figures.

// curveOf maps -tls-curves names to Go's identifiers.
var curveOf = map[string]tls.CurveID{
	"x25519": tls.X25519, "p256": tls.CurveP256, "p384": tls.CurveP384, "p521": tls.CurveP521,
	"x25519mlkem768": tls.X25519MLKEM768,
}

// parseCurves turns a comma-separated -tls-curves value into the client's preferences
// ("" or "default": Go's own).
func parseCurves(s string) ([]tls.CurveID, error) {
	if s == "" || s == "default" {
		return nil, nil
	}
	var ids []tls.CurveID
	for _, name := range strings.Split(s, ",") {
		id, ok := curveOf[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, fmt.Errorf("-tls-curves: unknown curve %q (x25519, p256, p384, p521, x25519mlkem768, default)", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// chainCache verifies a server's certificate chain against roots once and remembers the
// chains that verified. Safe for concurrent use.
type chainCache struct {
	roots    *x509.CertPool
	name     string   // the name the leaf must carry
	verified sync.Map // string(leaf DER + intermediates DER) → struct{}
}

// verify is the tls.Config.VerifyConnection of a client with InsecureSkipVerify set: it
// does what crypto/tls would (chain to roots, leaf valid for name) for a chain not seen yet.
func (cc *chainCache) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("tls: the server sent no certificate")
	}
	var key strings.Builder
	for _, c := range cs.PeerCertificates {
		key.Write(c.Raw)
	}
	if _, ok := cc.verified.Load(key.String()); ok {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: cc.roots, Intermediates: inter, DNSName: cc.name}); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cc.verified.Store(key.String(), struct{}{})
	return nil
}

// negotiated holds a description of the first TLS handshake of a run.
type negotiated struct{ v atomic.Pointer[string] }

// note records cs unless a handshake was recorded already.
func (n *negotiated) note(cs tls.ConnectionState) {
	if n.v.Load() != nil {
		return
	}
	s := fmt.Sprintf("%s %s %s", tls.VersionName(cs.Version), cs.CurveID, tls.CipherSuiteName(cs.CipherSuite))
	if cs.DidResume {
		s += " resumed"
	}
	n.v.CompareAndSwap(nil, &s)
}

// String is the recorded description, "" before any handshake.
func (n *negotiated) String() string {
	if p := n.v.Load(); p != nil {
		return *p
	}
	return ""
}

// resumption counts the handshakes of a -tls-resume run that resumed a session. With one
// client session cache per run, every connection after the first tickets arrived offers the
// latest ticket (Go's client keeps a TLS 1.3 ticket for reuse); the broker decides whether to
// resume, so the count says what each broker did.
type resumption struct {
	on                  bool
	handshakes, resumed atomic.Uint64
}

// note counts one handshake.
func (r *resumption) note(cs tls.ConnectionState) {
	if !r.on {
		return
	}
	r.handshakes.Add(1)
	if cs.DidResume {
		r.resumed.Add(1)
	}
}

// String is ", N/M resumed" for a -tls-resume run, "" otherwise.
func (r *resumption) String() string {
	if !r.on {
		return ""
	}
	return fmt.Sprintf(", %d/%d resumed", r.resumed.Load(), r.handshakes.Load())
}
