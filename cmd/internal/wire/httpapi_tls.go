package wire

import (
	"fmt"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/httpapi"
	"github.com/emqgo/emqgo/engine/transport"
)

// HTTPSAPI returns the HTTPS listener of the HTTP API from management.listener.https and its
// keyfile, certfile, cacertfile, verify, fail_if_no_peer_cert, tls_versions, ciphers,
// max_clients, inet6 and ipv6_v6only keys, nil when the key is unset. The TLS configuration is
// built by the MQTT listeners' builder (transport.ServerTLS: the certificate pair is read now
// and reloaded when it changes on disk). notes are settings applied other than as written
// (for a start-up warning); an error names the key at fault.
func HTTPSAPI(c *config.Config) (opts *httpapi.HTTPSOptions, notes []string, err error) {
	l := c.Management.HTTPS
	if l == nil || l.Bind == "" {
		return nil, nil, nil
	}
	const key = "management.listener.https"
	if l.CertFile == "" || l.KeyFile == "" {
		return nil, nil, fmt.Errorf("%s: needs %s.certfile and %s.keyfile", key, key, key)
	}
	cfg, notes, err := transport.ServerTLS(transport.TLSOptions{
		CertFile:         l.CertFile,
		KeyFile:          l.KeyFile,
		CACertFile:       l.CACertFile,
		VerifyPeer:       l.VerifyPeer,
		FailIfNoPeerCert: l.FailIfNoPeerCert,
		Depth:            -1,
		Versions:         l.TLSVersions,
		Ciphers:          l.Ciphers,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	for i := range notes {
		notes[i] = key + ": " + notes[i]
	}
	return &httpapi.HTTPSOptions{
		Addr:       l.Bind,
		Network:    httpNetwork(l.Inet6, l.IPv6Only),
		MaxClients: l.MaxClients,
		TLS:        cfg,
	}, notes, nil
}
