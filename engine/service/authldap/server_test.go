package authldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The directory of the tests: EMQX's example suffix and account.
const (
	suffix    = "dc=emqx,dc=io"
	deviceDN  = "ou=device," + suffix
	rootDN    = "cn=root," + suffix
	rootPW    = "public"
	slapdPath = "/usr/sbin/slapd"
)

// slapdServer is a slapd process of the tests: on 127.0.0.1, plain LDAP on port and LDAPS on
// tlsPort, its database and configuration in a temporary directory (kept across restarts).
type slapdServer struct {
	port, tlsPort int
	dir           string
	caPEM         []byte // the CA that signed the server's certificate
	cmd           *exec.Cmd
	exited        chan struct{}
}

var (
	shared    *slapdServer
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authldap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = startSlapd(dir)
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needSlapd returns the shared server. Its absence is a broken setup (`make test-deps`
// installs slapd), so the test fails; under -short it is skipped with the same advice.
func needSlapd(t *testing.T) *slapdServer {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
}

// startSlapd writes a slapd.conf (core and cosine schemas, the plugin's mqttuser.schema, an
// mdb database for dc=emqx,dc=io with cn=root as its manager, a TLS certificate for
// 127.0.0.1) under dir, starts slapd on free ports and adds the base entries.
func startSlapd(dir string) (*slapdServer, error) {
	if _, err := os.Stat(slapdPath); err != nil {
		return nil, fmt.Errorf("%s not found (Debian package slapd): run `make test-deps`", slapdPath)
	}
	schema, err := filepath.Abs("mqttuser.schema")
	if err != nil {
		return nil, err
	}
	s := &slapdServer{dir: dir}
	if err := s.writeCerts(); err != nil {
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
`, schema, filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"),
		filepath.Join(dir, "key.pem"), suffix, rootDN, rootPW, filepath.Join(dir, "db"))
	if err := os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.port, s.tlsPort = freePort(), freePort()
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	c, err := s.admin()
	if err != nil {
		s.stop()
		return nil, err
	}
	defer c.Close()
	for _, e := range []struct {
		dn    string
		attrs map[string][]string
	}{
		{suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"emqx"}, "o": {"emqx"}}},
		{deviceDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"device"}}},
	} {
		req := ldap.NewAddRequest(e.dn, nil)
		for k, v := range e.attrs {
			req.Attribute(k, v)
		}
		if err := c.Add(req); err != nil {
			s.stop()
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

// start runs slapd on its ports (foreground, so that it stays our child) and waits until it
// accepts a bind.
func (s *slapdServer) start() error {
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tlsPort)
	s.cmd = exec.Command(slapdPath, "-f", filepath.Join(s.dir, "slapd.conf"), "-h", urls, "-d", "0")
	logFile, err := os.Create(filepath.Join(s.dir, "slapd.log"))
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
			log, _ := os.ReadFile(filepath.Join(s.dir, "slapd.log"))
			s.cmd = nil
			return fmt.Errorf("slapd on port %d exited: %v\n%s", s.port, waitErr, log)
		default:
		}
		if c, err := s.admin(); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("slapd on port %d did not accept a bind within 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits until the process is gone.
func (s *slapdServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// pause stops (SIGSTOP) or resumes (SIGCONT) the server: the kernel accepts connections but
// nothing answers, as with a stuck server.
func (s *slapdServer) pause(stop bool) {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	_ = s.cmd.Process.Signal(sig)
}

func (s *slapdServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// admin returns a connection bound as the directory's manager.
func (s *slapdServer) admin() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://"+s.addr(), ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(5 * time.Second)
	if err := c.Bind(rootDN, rootPW); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// addDevice adds (replacing) the entry uid=<uid>,ou=device,dc=emqx,dc=io of object classes
// mqttDevice, mqttSecurity and mqttUser with the given attributes.
func (s *slapdServer) addDevice(t *testing.T, uid string, attrs map[string][]string) {
	t.Helper()
	s.add(t, "uid="+ldap.EscapeDN(uid)+","+deviceDN, map[string][]string{"objectClass": {"mqttDevice", "mqttSecurity", "mqttUser"}, "uid": {uid}}, attrs)
}

// add adds (replacing) the entry dn with the attributes of base and extra.
func (s *slapdServer) add(t *testing.T, dn string, base, extra map[string][]string) {
	t.Helper()
	c, err := s.admin()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
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

// writeCerts writes a CA and a certificate for 127.0.0.1 signed by it (ca.pem, cert.pem,
// key.pem) under s.dir.
func (s *slapdServer) writeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authldap test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.pem":   s.caPEM,
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// tlsConfig trusts the test CA.
func (s *slapdServer) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
