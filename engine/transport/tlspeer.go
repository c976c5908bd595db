package transport

import (
	"crypto/tls"
	"errors"
)

// PeerTLS builds the TLS configuration of a link between two peers that each accept and dial
// (the cluster routes between nodes): one configuration serves both sides of a handshake.
// It is the listeners' configuration (the same options, files and checks as ServerTLS,
// read once, now) plus the client side: the certificate is also presented when dialling,
// and the CAs of cacertfile also verify the certificate of the peer dialled, whose host
// (the caller sets ServerName, or the dialled host name or IP address is used) must be one
// of its subject alternative names. With VerifyPeer off neither side verifies the other
// (the link is encrypted but not authenticated). The result is not changed afterwards and
// may be cloned and shared.
func PeerTLS(o TLSOptions) (*tls.Config, []string, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, nil, errors.New("certfile and keyfile are required (each peer presents its certificate on both sides)")
	}
	cfg, notes, _, err := buildServerTLS(o) // the key's OpenSSL copy lives as long as cfg
	if err != nil {
		return nil, nil, err
	}
	if !o.VerifyPeer {
		cfg.InsecureSkipVerify = true
		return cfg, notes, nil
	}
	// buildServerTLS read the CAs into ClientCAs; the dialling side verifies with them too.
	cfg.RootCAs = cfg.ClientCAs
	// A dialling side sends its certificate even when the acceptor's list of acceptable
	// CAs does not name its issuer, so that the acceptor's log says why it is refused
	// rather than that none was sent.
	pair := cfg.Certificates[0]
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	return cfg, notes, nil
}
