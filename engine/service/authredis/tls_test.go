package authredis

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// startTLSRedisServer starts a redis-server that speaks only TLS on its port and requires a
// client certificate of its own test CA, written under dir.
func startTLSRedisServer(dir string) (*redisServer, error) {
	d := filepath.Join(dir, "tls-pki")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	pki, err := testpki.Write(d, pkix.Name{CommonName: "authredis client"})
	if err != nil {
		return nil, err
	}
	s, err := startRedisServer(dir, pki)
	if err != nil {
		return nil, fmt.Errorf("redis-server with TLS: %w", err)
	}
	return s, nil
}

// clientTLS is the configuration of a client of a TLS server (nil for a plain one): it trusts
// the test CA and presents the client certificate.
func (s *redisServer) clientTLS() *tls.Config {
	if s.pki == nil {
		return nil
	}
	c := s.pki.ClientTLS()
	c.Certificates = []tls.Certificate{s.pki.Client}
	return c
}

// needTLSRedis returns the TLS server, failing (or under -short skipping) without one.
func needTLSRedis(t *testing.T) *redisServer {
	t.Helper()
	if sharedTLSErr != nil {
		if testing.Short() {
			t.Skip(sharedTLSErr)
		}
		t.Fatal(sharedTLSErr)
	}
	return sharedTLS
}

// TestTLS: against a Redis that speaks only TLS and requires a client certificate, the plugin
// with the CA and the client certificate authenticates and authorizes as over plain TCP; one
// without TLS, or with TLS but no client certificate, cannot reach Redis and refuses with
// "server unavailable" (CONNACK 0x88).
func TestTLS(t *testing.T) {
	s := needTLSRedis(t)
	r := s.client(t)
	do(t, r, "HSET", "mqtt_user:tls-alice", "password", "pw-a")
	do(t, r, "HSET", "mqtt_acl:tls-alice", "tls/%u/#", "2")

	p, _ := newPlugin(t, s, func(c *Config) {
		c.TLS = s.clientTLS()
		c.TLS.ServerName = "" // as the plugin's loader leaves it: the name comes from the address
	})
	addr := startNode(t, false, acl.Deny, p)
	wantConnack(t, addr, "t1", "tls-alice", "pw-a", rcSuccess)
	wantConnack(t, addr, "t2", "tls-alice", "wrong", rcBadCredentials)
	c, rc := connect(t, addr, "t3", "tls-alice", "pw-a")
	if c == nil {
		t.Fatalf("tls-alice refused: %#x", rc)
	}
	if got := publishCode(t, c, "tls/tls-alice/x"); got != rcSuccess {
		t.Errorf("publish allowed by the ACL in the TLS Redis: %#x", got)
	}
	if got := publishCode(t, c, "tls/other/x"); got != rcNotAuthorized {
		t.Errorf("publish outside the ACL in the TLS Redis: %#x, want %#x", got, rcNotAuthorized)
	}

	// Without TLS, or without the client certificate the server requires, Redis is out of reach.
	plain, _ := newPlugin(t, s, func(c *Config) { c.QueryTimeout = 500 * time.Millisecond })
	wantConnack(t, startNode(t, false, acl.Deny, plain), "t4", "tls-alice", "pw-a", rcUnavailable)
	noCert, _ := newPlugin(t, s, func(c *Config) {
		c.TLS = s.pki.ClientTLS()
		c.QueryTimeout = 500 * time.Millisecond
	})
	wantConnack(t, startNode(t, false, acl.Deny, noCert), "t5", "tls-alice", "pw-a", rcUnavailable)
	if plain.Stats().Failures == 0 || noCert.Stats().Failures == 0 {
		t.Errorf("failures: plain %d, without certificate %d; want both counted", plain.Stats().Failures, noCert.Stats().Failures)
	}
}
