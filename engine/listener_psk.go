package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// TLS-PSK on ssl listeners (psk_ciphers). A listener with PSK suites reads each connection's
// first record (its ClientHello) within handshake_timeout: when it offers one of the
// listener's PSK suites, the PSK server (engine/transport/tlspsk) runs the handshake;
// otherwise crypto/tls does, with the listener's certificate, and gets the bytes read so far
// first. A listener with psk_ciphers and no certificate serves PSK only. The keys come from
// the function given to SetPSKLookup (the emqx_psk_file plugin), called on the connection's
// handshake goroutine, never on a loop. After the handshake the connection is a
// transport.Stream like any TLS one.

// PSKLookup returns the pre-shared key of a TLS-PSK identity, false when it is unknown. It is
// called on a connection's handshake goroutine (never on an event loop), possibly on many at
// once, and may block within the listener's handshake_timeout. The returned key is not kept.
type PSKLookup func(identity string) (key []byte, ok bool)

// SetPSKLookup sets the function that gives TLS-PSK identities their keys on every listener
// with psk_ciphers; nil (the start) refuses every PSK client as an unknown identity. Safe for
// concurrent use; handshakes that start afterwards use the new function.
func (n *Node) SetPSKLookup(f PSKLookup) {
	if f == nil {
		n.tls.psk.Store(nil)
		return
	}
	n.tls.psk.Store(&f)
}

// PSKKey looks identity up with the function given to SetPSKLookup (false without one): the
// key a TLS-PSK client of the node, such as an MQTT bridge, presents. Safe for concurrent
// use; the key is shared and must not be changed.
func (n *Node) PSKKey(identity string) ([]byte, bool) { return n.pskKey(identity) }

// pskKey is the tlspsk GetKey of the node's PSK listeners.
func (n *Node) pskKey(identity string) ([]byte, bool) {
	f := n.tls.psk.Load()
	if f == nil {
		return nil, false
	}
	return (*f)(identity)
}

// pskConfig is the PSK server configuration of a listener with PSK suites, nil without;
// notes name the suites listed that are not implemented (ignored).
func (n *Node) pskConfig(t *TLSListener) (*tlspsk.Config, []string, error) {
	if len(t.PSKCiphers) == 0 {
		return nil, nil, nil
	}
	ids, ignored, err := tlspsk.CipherSuites(t.PSKCiphers)
	if err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 {
		return nil, nil, errors.New("none of the suites listed is implemented (" + strings.Join(ignored, ",") + "); use PSK-AES128-GCM-SHA256, PSK-AES256-GCM-SHA384, PSK-AES128-CBC-SHA256, PSK-AES128-CBC-SHA …")
	}
	var notes []string
	if len(ignored) > 0 {
		notes = append(notes, "psk_ciphers: not implemented, ignored: "+strings.Join(ignored, ","))
	}
	return &tlspsk.Config{GetKey: n.pskKey, CipherSuites: ids}, notes, nil
}

// handshake runs the server handshake of nc within timeout: TLS-PSK when the listener has
// PSK suites and the client offers one (or the listener has no certificate), crypto/tls
// otherwise. It returns the connection to read and write and the client's certificate (nil
// for PSK or none).
func (s *tlsServer) handshake(nc net.Conn, timeout time.Duration) (net.Conn, *x509.Certificate, error) {
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if s.psk != nil {
		read, offered, err := tlspsk.PeekClientHello(nc)
		if err != nil {
			return nil, nil, err
		}
		nc = tlspsk.Replay(read, nc)
		if s.cfg == nil || tlspsk.OffersAny(offered, s.psk.CipherSuites) {
			pc := tlspsk.Server(nc, s.psk)
			if err := pc.Handshake(); err != nil {
				return nil, nil, err
			}
			return pc, nil, nil
		}
	}
	tc := tls.Server(nc, s.cfg)
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	var cert *x509.Certificate
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		cert = certs[0]
	}
	return tc, cert, nil
}

// pskIdentity returns the PSK identity of a connection that made a TLS-PSK handshake, nil
// for any other. With peer_cert_as_username or peer_cert_as_clientid set to cn or dn, the
// identity stands in for the certificate's name (a PSK client has no certificate), as
// Mosquitto's use_identity_as_username does; crt gives nothing.
func pskIdentity(st *transport.Stream, which string) []byte {
	pc, ok := st.NetConn().(*tlspsk.Conn)
	if !ok || (which != "cn" && which != "dn") {
		return nil
	}
	if id := pc.ConnectionState().Identity; id != "" {
		return []byte(id)
	}
	return nil
}

// pskReason names why a TLS-PSK handshake failed, for handshakeReason; false when err is not
// a TLS-PSK failure.
func pskReason(err error) (string, bool) {
	var ae *tlspsk.AlertError
	switch {
	case errors.Is(err, tlspsk.ErrUnknownIdentity):
		return "unknown PSK identity", true
	case errors.Is(err, tlspsk.ErrWrongKey):
		return "wrong PSK key", true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "client closed the connection", true
	case !errors.As(err, &ae):
		return "", false
	case ae.Sent && strings.HasPrefix(ae.Reason, "no PSK cipher suite"):
		return "no cipher suite in common", true
	case ae.Sent:
		return "TLS-PSK: " + ae.Reason, true
	}
	return "client refused the handshake (alert " + ae.Alert.String() + ")", true
}
