package authmysql

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/service/authmysql/mariadbtest"
)

// TestTLS: the plugin connects as mariadbtest.TLSUser, whom the server admits only over TLS
// with a client certificate of its CA (REQUIRE X509). With the CA and the client certificate
// it authenticates and authorizes as over plain TCP; without TLS, or over TLS without the
// certificate, the server refuses the plugin and the client is not let in.
func TestTLS(t *testing.T) {
	s := needMariaDB(t)
	s.Exec(t, "INSERT INTO mqtt_user (username, password) VALUES ('tls-alice', 'pw-a')",
		"INSERT INTO mqtt_acl (allow, username, access, topic) VALUES (1, 'tls-alice', 2, 'tls/%u/#')")
	withTLS := func(cert bool) func(*Config) {
		return func(c *Config) {
			c.Username = mariadbtest.TLSUser
			c.TLS = s.PKI.ClientTLS()
			c.TLS.ServerName = "" // as the plugin's loader leaves it: the name comes from the address
			if cert {
				c.TLS.Certificates = []tls.Certificate{s.PKI.Client}
			}
			c.QueryTimeout = 2 * time.Second
		}
	}
	p, _ := newPlugin(t, s, withTLS(true))
	addr := startNode(t, false, acl.Deny, p)
	wantConnack(t, addr, "t1", "tls-alice", "pw-a", rcSuccess)
	wantConnack(t, addr, "t2", "tls-alice", "wrong", rcBadCredentials)
	c, rc := connect(t, addr, "t3", "tls-alice", "pw-a")
	if c == nil {
		t.Fatalf("tls-alice refused: %#x", rc)
	}
	if got := publishCode(t, c, "tls/tls-alice/x"); got != rcSuccess {
		t.Errorf("publish allowed by mqtt_acl over TLS: %#x", got)
	}
	if got := publishCode(t, c, "tls/other/x"); got != rcNotAuthorized {
		t.Errorf("publish outside mqtt_acl over TLS: %#x, want %#x", got, rcNotAuthorized)
	}

	plain, _ := newPlugin(t, s, func(c *Config) { c.Username = mariadbtest.TLSUser })
	noCert, _ := newPlugin(t, s, withTLS(false))
	for name, pl := range map[string]*Plugin{"plain TCP": plain, "TLS without a certificate": noCert} {
		if _, rc := connect(t, startNode(t, false, acl.Deny, pl), "t4", "tls-alice", "pw-a"); rc == rcSuccess {
			t.Errorf("%s: a user that requires X509 got through", name)
		}
		if pl.Stats().Failures == 0 {
			t.Errorf("%s: the server's refusal was not counted", name)
		}
	}
}
