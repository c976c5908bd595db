package engine

import (
	"crypto/x509"

	"github.com/emqgo/emqgo/engine/transport"
)

// peerCert returns the certificate the client presented on a TLS (ssl or wss) listener, nil
// on any other connection or when it presented none. Runs on the loop.
func (c *conn) peerCert() *x509.Certificate {
	st, ok := c.tr.(*transport.Stream)
	if w, isWS := c.tr.(*transport.WebSocket); isWS { // wss
		st, ok = w.Under().(*transport.Stream)
	}
	if !ok {
		return nil
	}
	return st.PeerCert
}

// setCert fills the certificate fields of info (EMQX's %C and %d) from c's peer certificate.
func (c *conn) setCert(info *ClientInfo) {
	if cert := c.peerCert(); cert != nil {
		info.CertCN, info.CertDN = cert.Subject.CommonName, cert.Subject.String()
	}
}
