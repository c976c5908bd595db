package authpgsql

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// tlsRole may log in only over TLS with a client certificate of the server's CA whose common
// name is the role's name (pg_hba "cert"); over plain TCP it is rejected.
const tlsRole = "emqxtls"

// tlsRoleSQL creates tlsRole with read access to EMQX's tables.
const tlsRoleSQL = "CREATE ROLE " + tlsRole + " LOGIN; GRANT SELECT ON mqtt_user, mqtt_acl TO " + tlsRole + ";"

// setUpTLS writes the server's certificates into its directory (owned by the server's user:
// PostgreSQL refuses a key others can read) and puts tlsRole's rules before initdb's trust
// lines in pg_hba.conf.
func (s *pgServer) setUpTLS() error {
	dir := filepath.Join(s.dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pki, err := testpki.Write(dir, pkix.Name{CommonName: tlsRole})
	if err != nil {
		return err
	}
	s.pki = pki
	if st, err := os.Stat(s.dir); err == nil && os.Geteuid() == 0 {
		uid, gid := ownerOf(st)
		for _, f := range []string{"", testpki.CAFile, testpki.CertFile, testpki.KeyFile, testpki.ClientCertFile, testpki.ClientKeyFile} {
			if err := os.Chown(filepath.Join(dir, f), uid, gid); err != nil {
				return err
			}
		}
	}
	hba := filepath.Join(s.data(), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return err
	}
	rules := "hostssl all " + tlsRole + " 127.0.0.1/32 cert\nhost all " + tlsRole + " 127.0.0.1/32 reject\n"
	return os.WriteFile(hba, append([]byte(rules), old...), 0o600)
}

// TestTLS: the plugin logs in as tlsRole, which the server admits only over TLS with the
// client certificate (pg_hba "hostssl ... cert"). With the CA and the certificate, and no
// ServerName (the plugin's loader sets none: it comes from the address), it authenticates
// and authorizes as over plain TCP; without TLS, or without the certificate, the server
// rejects the plugin and the client is not let in.
func TestTLS(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "DELETE FROM mqtt_user WHERE username = 'tls-alice'")
	s.mustExec(t, "DELETE FROM mqtt_acl WHERE username = 'tls-alice'")
	s.mustExec(t, "INSERT INTO mqtt_user (username, password, is_superuser) VALUES ('tls-alice', 'pw-a', false)")
	s.mustExec(t, "INSERT INTO mqtt_acl (allow, username, access, topic) VALUES (1, 'tls-alice', 2, 'tls/%u/#')")
	withTLS := func(cert bool) func(*Config) {
		return func(c *Config) {
			c.Username = tlsRole
			c.TLS = s.pki.ClientTLS()
			c.TLS.ServerName = ""
			if cert {
				c.TLS.Certificates = []tls.Certificate{s.pki.Client}
			}
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

	plain, _ := newPlugin(t, s, func(c *Config) { c.Username = tlsRole; c.QueryTimeout = time.Second })
	noCert, _ := newPlugin(t, s, withTLS(false))
	for name, pl := range map[string]*Plugin{"plain TCP": plain, "TLS without a certificate": noCert} {
		if _, rc := connect(t, startNode(t, false, acl.Deny, pl), "t4", "tls-alice", "pw-a"); rc == rcSuccess {
			t.Errorf("%s: a role that requires a certificate got through", name)
		}
	}
}

// ownerOf returns a file's owner and group.
func ownerOf(st os.FileInfo) (uid, gid int) {
	sys := st.Sys().(*syscall.Stat_t)
	return int(sys.Uid), int(sys.Gid)
}
