// Package mariadbtest runs a MariaDB server for tests: a data directory initialised with
// mariadb-install-db in a temporary directory, mariadbd on 127.0.0.1 and a free port (as root
// when the tests run as root, as in CI), EMQX's mqtt_user and mqtt_acl tables, and the user
// emqx/public that a plugin connects as. The server also accepts TLS, with certificates of
// its own test CA (PKI), and has a second user, TLSUser, that must connect with TLS and a
// client certificate of that CA. The programs come from Debian's mariadb-server
// package (tools/ci/deps.sh). A Server is used by one test goroutine at a time.
package mariadbtest

import (
	"bytes"
	"crypto/x509/pkix"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// The account a plugin under test connects as (over TCP), with SELECT on database mqtt.
const (
	User     = "emqx"
	Password = "public"
	Database = "mqtt"

	// TLSUser (password Password) may connect only over TLS presenting a client certificate
	// of the server's CA (REQUIRE X509); SELECT on database mqtt.
	TLSUser = "emqxtls"
)

// Server is a mariadbd process: on 127.0.0.1, its data directory, socket and log in a
// directory of its own. Admin is root over the Unix socket, on database mqtt, to fill the
// tables.
type Server struct {
	Port   int
	Dir    string
	Admin  *sql.DB
	PKI    *testpki.PKI // the server's certificate, its CA and a client certificate of that CA
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
}

// program finds a MariaDB program on PATH or in the Debian package's directories (sbin is
// not on an ordinary user's PATH).
func program(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (Debian package mariadb-server): run `make test-deps`", name)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Schema is EMQX's mqtt_user and mqtt_acl tables (its emqx_auth_mysql documentation), and
// the user the plugin connects as.
var Schema = []string{
	"CREATE DATABASE mqtt",
	"CREATE TABLE mqtt.mqtt_user (" +
		"id int(11) unsigned NOT NULL AUTO_INCREMENT, username varchar(100) DEFAULT NULL, " +
		"password varchar(100) DEFAULT NULL, salt varchar(35) DEFAULT NULL, " +
		"is_superuser tinyint(1) DEFAULT 0, created datetime DEFAULT NULL, " +
		"PRIMARY KEY (id), UNIQUE KEY mqtt_username (username)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE mqtt.mqtt_acl (" +
		"id int(11) unsigned NOT NULL AUTO_INCREMENT, allow int(1) DEFAULT NULL COMMENT '0: deny, 1: allow', " +
		"ipaddr varchar(60) DEFAULT NULL, username varchar(100) DEFAULT NULL, clientid varchar(100) DEFAULT NULL, " +
		"access int(2) NOT NULL COMMENT '1: subscribe, 2: publish, 3: pubsub', topic varchar(100) NOT NULL DEFAULT '', " +
		"PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE USER 'emqx'@'%' IDENTIFIED BY 'public'",
	"GRANT SELECT ON mqtt.* TO 'emqx'@'%'",
	"CREATE USER 'emqxtls'@'%' IDENTIFIED BY 'public' REQUIRE X509",
	"GRANT SELECT ON mqtt.* TO 'emqxtls'@'%'",
}

// Start initialises a data directory under dir, starts mariadbd on a free port and creates
// Schema. Stop the server when done (it does not stop with the test binary).
func Start(dir string) (*Server, error) {
	installDB, err := program("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	if _, err := program("mariadbd"); err != nil {
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	args = append(args, runAs()...)
	if out, err := exec.Command(installDB, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	pkiDir := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o755); err != nil {
		return nil, err
	}
	pki, err := testpki.Write(pkiDir, pkix.Name{CommonName: "mariadbtest client"})
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		s := &Server{Port: port, Dir: dir, PKI: pki}
		if lastErr = s.Restart(); lastErr != nil {
			continue
		}
		admin := s.rootDB("")
		for _, stmt := range Schema {
			if _, err := admin.Exec(stmt); err != nil {
				admin.Close()
				s.Stop()
				return nil, fmt.Errorf("creating the schema: %s: %w", stmt, err)
			}
		}
		admin.Close()
		s.Admin = s.rootDB(Database)
		return s, nil
	}
	return nil, lastErr
}

// runAs is mariadbd's --user option: as root (CI) the server must be told to stay root.
func runAs() []string {
	if os.Geteuid() != 0 {
		return nil
	}
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return []string{"--user=" + name}
}

// Restart runs the server (again, after Stop) on its port and data and waits until it
// accepts a connection as root.
func (s *Server) Restart() error {
	bin, err := program("mariadbd")
	if err != nil {
		return err
	}
	logFile := filepath.Join(s.Dir, "error.log")
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(s.Dir, "data"),
		"--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1", "--socket=" + s.socket(),
		"--pid-file=" + filepath.Join(s.Dir, "mariadbd.pid"), "--log-error=" + logFile,
		"--innodb-buffer-pool-size=16M", "--skip-log-bin", "--max-connections=200",
		"--ssl-ca=" + s.PKI.Path(testpki.CAFile), "--ssl-cert=" + s.PKI.Path(testpki.CertFile),
		"--ssl-key=" + s.PKI.Path(testpki.KeyFile)}
	s.cmd = exec.Command(bin, append(args, runAs()...)...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("cannot start mariadbd: %w", err)
	}
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); close(s.exited) }()
	db := s.rootDB("")
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("mariadbd on port %d exited: %v\n%s", s.Port, waitErr, log)
		default:
		}
		if db.Ping() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("mariadbd on port %d did not answer within 30s", s.Port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (as a crash would) and waits until the process is gone.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process must run to die
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Pause stops (SIGSTOP) or resumes (SIGCONT) the server: connections are accepted by the
// kernel but nothing answers, as with a stuck server. Stopping returns once every thread of
// the server is stopped (the signal takes effect asynchronously: a query sent at once could
// still be answered).
func (s *Server) Pause(t testing.TB, stop bool) {
	t.Helper()
	if !stop {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	tasks := filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "task")
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(tasks) {
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd's threads (%s) not all stopped 5s after SIGSTOP", tasks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allStopped reports whether every thread listed under dir (/proc/<pid>/task) is in state T
// (stopped).
func allStopped(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return false
	}
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			return false
		}
		// "pid (comm) S ...": the state follows the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			return false
		}
	}
	return true
}

// Running reports whether the process runs (it was not stopped).
func (s *Server) Running() bool { return s.cmd != nil }

// Addr is the server's TCP address, 127.0.0.1:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Log returns the server's error log, for a failing test's output.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b)
}

func (s *Server) socket() string { return filepath.Join(s.Dir, "mariadbd.sock") }

// rootDB returns a client of the server as root over its socket, on database (none: "").
func (s *Server) rootDB(database string) *sql.DB {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "unix", s.socket(), database
	c.Timeout = time.Second
	c.Logger = &mysql.NopLogger{} // the tests kill the server under it
	conn, err := mysql.NewConnector(c)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return sql.OpenDB(conn)
}

// Exec runs statements as root on database mqtt, failing the test on an error.
func (s *Server) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, st := range stmts {
		if _, err := s.Admin.Exec(st); err != nil {
			t.Fatalf("mariadb %s: %v", st, err)
		}
	}
}
