package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// TestClusterTLSKeys: cluster.ssl and cluster.proto_dist = inet_tls turn the routes' TLS on,
// mutual by default; a missing file stops start-up naming cluster.ssl.
func TestClusterTLSKeys(t *testing.T) {
	load := func(env ...string) *config.Config {
		t.Helper()
		c, _, err := config.Load("", env)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	log := slog.New(slog.DiscardHandler)
	if cfg, err := clusterTLS(&load().Cluster, log); cfg != nil || err != nil {
		t.Fatalf("default: %v %v, want no TLS", cfg, err)
	}
	if _, err := clusterTLS(&load("EMQX_CLUSTER__SSL=on").Cluster, log); err == nil || !strings.Contains(err.Error(), "cluster.ssl: certfile and keyfile are required") {
		t.Fatalf("on without files: %v", err)
	}
	dir := t.TempDir()
	ca, err := certgen.NewCA("cluster CA")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(certgen.Options{CommonName: "emqx1", Peer: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, cacert := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	if err := p.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(cacert, filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	files := []string{"EMQX_CLUSTER__SSL__CERTFILE=" + cert, "EMQX_CLUSTER__SSL__KEYFILE=" + key, "EMQX_CLUSTER__SSL__CACERTFILE=" + cacert}
	cfg, err := clusterTLS(&load(append(files, "EMQX_CLUSTER__PROTO_DIST=inet_tls")...).Cluster, log)
	if err != nil || cfg == nil {
		t.Fatalf("inet_tls: %v %v", cfg, err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.RootCAs == nil || cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("inet_tls: not mutual TLS 1.2+: auth %v roots %v insecure %v min %x", cfg.ClientAuth, cfg.RootCAs != nil, cfg.InsecureSkipVerify, cfg.MinVersion)
	}
	cfg, err = clusterTLS(&load(append(files, "EMQX_CLUSTER__SSL=on", "EMQX_CLUSTER__SSL__VERIFY=verify_none")...).Cluster, log)
	if err != nil || !cfg.InsecureSkipVerify || cfg.ClientAuth != tls.NoClientCert {
		t.Fatalf("verify_none: %v %+v", err, cfg)
	}
	if _, err := clusterTLS(&load("EMQX_CLUSTER__SSL=on", "EMQX_CLUSTER__SSL__CERTFILE="+cert, "EMQX_CLUSTER__SSL__KEYFILE="+key).Cluster, log); err == nil || !strings.Contains(err.Error(), "cacertfile") {
		t.Fatalf("verify_peer without cacertfile: %v", err)
	}
}
