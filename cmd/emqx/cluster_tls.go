package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport"
)

// clusterTLS builds the routes' TLS configuration from cluster.ssl.* with the listeners'
// builder (transport.PeerTLS): nil when TLS between nodes is off (cluster.ssl = off and
// cluster.proto_dist is not inet_tls). A missing or bad file stops start-up with the key at
// fault; settings applied differently than written are logged once.
func clusterTLS(c *config.Cluster, log *slog.Logger) (*tls.Config, error) {
	if !c.TLSEnabled() {
		return nil, nil
	}
	t := &c.SSL
	cfg, notes, err := transport.PeerTLS(transport.TLSOptions{
		CertFile:         t.CertFile,
		KeyFile:          t.KeyFile,
		KeyPassword:      t.KeyPassword,
		CACertFile:       t.CACertFile,
		VerifyPeer:       t.VerifyPeer,
		FailIfNoPeerCert: t.FailIfNoPeerCert,
		Depth:            t.Depth,
		Versions:         t.Versions,
		Ciphers:          t.Ciphers,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration error: cluster.ssl: %w", err)
	}
	for _, n := range notes {
		log.Warn("cluster.ssl: " + n)
	}
	if !t.VerifyPeer {
		log.Warn("cluster.ssl.verify = verify_none: the routes are encrypted but the nodes are not authenticated (only node.cookie)")
	}
	return cfg, nil
}
