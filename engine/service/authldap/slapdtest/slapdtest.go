// Package slapdtest runs an OpenLDAP server for tests: slapd (Debian's slapd package,
// tools/ci/deps.sh) on 127.0.0.1 with plain LDAP and LDAPS on free ports, from a slapd.conf it
// writes in a directory of its own (core and cosine schemas, emqx_auth_ldap's mqttuser.schema,
// an mdb database for dc=emqx,dc=io managed by cn=root/public, a certificate for 127.0.0.1
// signed by a CA of its own), with the base entries dc=emqx,dc=io and ou=device. A Server is
// used by one test goroutine at a time; Stop it at the end.
package slapdtest

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// The directory: EMQX's example suffix and account.
const (
	Suffix   = "dc=emqx,dc=io"
	DeviceDN = "ou=device," + Suffix
	RootDN   = "cn=root," + Suffix
	RootPW   = "public"
)

const slapdPath = "/usr/sbin/slapd"

// Server is a slapd process: on 127.0.0.1, plain LDAP on Port and LDAPS on TLSPort, its
// database and configuration in Dir (kept across Stop and Start).
type Server struct {
	Port, TLSPort int
	Dir           string
	pki           *testpki.PKI // the server's certificate and its CA
	cmd           *exec.Cmd
	exited        chan struct{}
}

// Start writes the configuration under dir, starts slapd on free ports and adds the base
// entries. An error says what is missing or what slapd said.
func Start(dir string) (*Server, error) {
	if _, err := os.Stat(slapdPath); err != nil {
		return nil, fmt.Errorf("%s not found (Debian package slapd): run `make test-deps`", slapdPath)
	}
	_, self, _, _ := runtime.Caller(0)
	schema := filepath.Join(filepath.Dir(self), "..", "mqttuser.schema")
	if _, err := os.Stat(schema); err != nil {
		return nil, fmt.Errorf("the plugin's schema: %w", err)
	}
	s := &Server{Dir: dir}
	var err error
	if s.pki, err = testpki.Write(dir, pkix.Name{CommonName: "slapdtest client"}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include %s
pidfile %s
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
database mdb
maxsize 16777216
suffix "%s"
rootdn "%s"
rootpw %s
directory %s
`, schema, filepath.Join(dir, "slapd.pid"), s.pki.Path(testpki.CAFile), s.pki.Path(testpki.CertFile),
		s.pki.Path(testpki.KeyFile), Suffix, RootDN, RootPW, filepath.Join(dir, "db"))
	if err := os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.Port, s.TLSPort = freePort(), freePort()
		if lastErr = s.Start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	c, err := s.Admin()
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer c.Close()
	for _, e := range []struct {
		dn    string
		attrs map[string][]string
	}{
		{Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"emqx"}, "o": {"emqx"}}},
		{DeviceDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"device"}}},
	} {
		req := ldap.NewAddRequest(e.dn, nil)
		for k, v := range e.attrs {
			req.Attribute(k, v)
		}
		if err := c.Add(req); err != nil {
			s.Stop()
			return nil, fmt.Errorf("adding %s: %w", e.dn, err)
		}
	}
	return s, nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs slapd on its ports (foreground, so that it stays our child) and waits until it
// accepts a bind.
func (s *Server) Start() error {
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.Port, s.TLSPort)
	s.cmd = exec.Command(slapdPath, "-f", filepath.Join(s.Dir, "slapd.conf"), "-h", urls, "-d", "0")
	logFile, err := os.Create(filepath.Join(s.Dir, "slapd.log"))
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("cannot start slapd: %w", err)
	}
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); logFile.Close(); close(s.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
			s.cmd = nil
			return fmt.Errorf("slapd on port %d exited: %v\n%s", s.Port, waitErr, log)
		default:
		}
		if c, err := s.Admin(); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("slapd on port %d did not accept a bind within 10s", s.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (as a crash would) and waits until the process is gone.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Pause stops (SIGSTOP) or resumes (SIGCONT) the server: the kernel accepts connections but
// nothing answers, as with a stuck server.
func (s *Server) Pause(stop bool) {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	_ = s.cmd.Process.Signal(sig)
}

// Addr is the plain LDAP address, host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Admin returns a connection bound as the directory's manager.
func (s *Server) Admin() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://"+s.Addr(), ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(5 * time.Second)
	if err := c.Bind(RootDN, RootPW); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// AddDevice adds (replacing) the entry uid=<uid>,ou=device,dc=emqx,dc=io of object classes
// mqttDevice, mqttSecurity and mqttUser with the given attributes.
func (s *Server) AddDevice(t *testing.T, uid string, attrs map[string][]string) {
	t.Helper()
	s.Add(t, "uid="+ldap.EscapeDN(uid)+","+DeviceDN, map[string][]string{"objectClass": {"mqttDevice", "mqttSecurity", "mqttUser"}, "uid": {uid}}, attrs)
}

// Add adds (replacing) the entry dn with the attributes of base and extra. An entry already
// at dn is deleted first, with the entries below it (a test run again with -count finds the
// container it made the first time, with its children).
func (s *Server) Add(t *testing.T, dn string, base, extra map[string][]string) {
	t.Helper()
	c, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := deleteTree(c, dn); err != nil {
		t.Fatalf("deleting %s: %v", dn, err)
	}
	req := ldap.NewAddRequest(dn, nil)
	for _, m := range []map[string][]string{base, extra} {
		for k, v := range m {
			req.Attribute(k, v)
		}
	}
	if err := c.Add(req); err != nil {
		t.Fatalf("adding %s: %v", dn, err)
	}
}

// TLSConfig trusts the test CA.
func (s *Server) TLSConfig() *tls.Config { return s.pki.ClientTLS() }

// deleteTree deletes dn and every entry below it, the deepest first; a dn that is not there is
// no error.
func deleteTree(c *ldap.Conn, dn string) error {
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		return err
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	// An entry's DN ends with its parent's, so it is longer: longest first deletes children first.
	sort.Slice(dns, func(i, j int) bool { return len(dns[i]) > len(dns[j]) })
	for _, d := range dns {
		if err := c.Del(ldap.NewDelRequest(d, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return err
		}
	}
	return nil
}
