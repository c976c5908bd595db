package authmysql

import (
	"bytes"
	"database/sql"
	"flag"
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
)

// mariadbServer is a mariadbd process of the tests: on 127.0.0.1, its data directory, socket
// and log in a temporary directory. The plugin connects over TCP as the user "emqx" (password
// "public"); the tests fill the tables as root over the Unix socket.
type mariadbServer struct {
	port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	admin  *sql.DB       // root over the socket, database mqtt
}

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none.
var (
	shared    *mariadbServer
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authmysql-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = startMariaDB(dir)
	code := m.Run()
	if shared != nil {
		shared.stop()
		shared.admin.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needMariaDB returns the shared server. Its absence is a broken setup (`make test-deps`
// installs mariadb-server), so the test fails; under -short it is skipped with the same
// advice.
func needMariaDB(t *testing.T) *mariadbServer {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
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

// schema is EMQX's mqtt_user and mqtt_acl tables (its emqx_auth_mysql documentation), and
// the user the plugin connects as.
var schema = []string{
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
}

// startMariaDB initialises a data directory under dir, starts mariadbd on a free port and
// creates EMQX's schema.
func startMariaDB(dir string) (*mariadbServer, error) {
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
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		s := &mariadbServer{port: port, dir: dir}
		if lastErr = s.start(); lastErr != nil {
			continue
		}
		admin := s.rootDB("")
		for _, stmt := range schema {
			if _, err := admin.Exec(stmt); err != nil {
				admin.Close()
				s.stop()
				return nil, fmt.Errorf("creating the schema: %s: %w", stmt, err)
			}
		}
		admin.Close()
		s.admin = s.rootDB("mqtt")
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

// start runs the server on its port and waits until it accepts a connection as root.
func (s *mariadbServer) start() error {
	bin, err := program("mariadbd")
	if err != nil {
		return err
	}
	logFile := filepath.Join(s.dir, "error.log")
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(s.dir, "data"),
		"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--socket=" + s.socket(),
		"--pid-file=" + filepath.Join(s.dir, "mariadbd.pid"), "--log-error=" + logFile,
		"--innodb-buffer-pool-size=16M", "--skip-log-bin", "--max-connections=200"}
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
			return fmt.Errorf("mariadbd on port %d exited: %v\n%s", s.port, waitErr, log)
		default:
		}
		if db.Ping() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("mariadbd on port %d did not answer within 30s", s.port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits until the process is gone.
func (s *mariadbServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process must run to die
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// pause stops (SIGSTOP) or resumes (SIGCONT) the server: connections are accepted by the
// kernel but nothing answers, as with a stuck server. Stopping returns once every thread of
// the server is stopped (the signal takes effect asynchronously: a query sent at once could
// still be answered).
func (s *mariadbServer) pause(t *testing.T, stop bool) {
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

func (s *mariadbServer) addr() string   { return "127.0.0.1:" + strconv.Itoa(s.port) }
func (s *mariadbServer) socket() string { return filepath.Join(s.dir, "mariadbd.sock") }

// rootDB returns a client of the server as root over its socket, on database (none: "").
func (s *mariadbServer) rootDB(database string) *sql.DB {
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

// exec runs statements as root on database mqtt, failing the test on an error.
func (s *mariadbServer) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, st := range stmts {
		if _, err := s.admin.Exec(st); err != nil {
			t.Fatalf("mariadb %s: %v", st, err)
		}
	}
}
