package authpgsql

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// pgServer is a PostgreSQL server of the tests: a cluster made by initdb in a temporary
// directory, listening on 127.0.0.1 on a free port (and a Unix socket in its directory), no
// fsync. As root (CI) every PostgreSQL program runs as the postgres user through runuser, since
// PostgreSQL refuses to run as root; otherwise as the current user.
type pgServer struct {
	bin    string // the directory of initdb, postgres
	dir    string // owned by the server's user: data/, the socket, the log
	port   int
	pki    *testpki.PKI // the server's certificate (ssl = on) and a client certificate for tlsRole
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
}

// The database and tables of the tests: EMQX's schema (emqx_auth_pgsql's README).
const (
	testDatabase = "mqtt"
	schema       = `
CREATE TABLE mqtt_user (
  id SERIAL primary key,
  is_superuser boolean,
  username character varying(100),
  password character varying(100),
  salt character varying(40)
);
CREATE TABLE mqtt_acl (
  id SERIAL primary key,
  allow integer,
  ipaddr character varying(60),
  username character varying(100),
  clientid character varying(100),
  access integer,
  topic character varying(100)
);`
)

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none.
var (
	shared    *pgServer
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	shared, sharedErr = newPGServer()
	if sharedErr == nil {
		if sharedErr = shared.start(); sharedErr == nil {
			sharedErr = shared.exec("postgres", "CREATE DATABASE "+testDatabase)
		}
		if sharedErr == nil {
			sharedErr = shared.exec(testDatabase, schema)
		}
		if sharedErr == nil {
			sharedErr = shared.exec(testDatabase, tlsRoleSQL)
		}
	}
	code := m.Run()
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// needPG returns the shared server. Its absence is a broken setup (`make test-deps` installs
// postgresql), so the test fails; under -short it is skipped with the same advice.
func needPG(t *testing.T) *pgServer {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
}

// newPGServer makes a cluster (initdb) in a new temporary directory, on a free port.
func newPGServer() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authpgsql-test-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user (Debian package postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.setUpTLS(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	return s, nil
}

// pgBinDir finds PostgreSQL's programs: Debian's /usr/lib/postgresql/<version>/bin (the
// newest), else the directory of initdb on the PATH.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL's initdb not found (Debian package postgresql): run `make test-deps`")
}

// command runs a PostgreSQL program as the server's user.
func (s *pgServer) command(prog string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	}
	return exec.Command(prog, args...)
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it accepts a connection.
func (s *pgServer) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = s.command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-p", strconv.Itoa(s.port),
		"-k", s.dir, "-h", "127.0.0.1", "-F", "-c", "max_connections=40", "-c", "shared_buffers=16MB",
		"-c", "ssl=on", "-c", "ssl_cert_file="+s.pki.Path(testpki.CertFile), "-c", "ssl_key_file="+s.pki.Path(testpki.KeyFile),
		"-c", "ssl_ca_file="+s.pki.Path(testpki.CAFile))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("cannot start postgres: %w", err)
	}
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres on port %d exited: %v\n%s", s.port, waitErr, s.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("postgres on port %d did not accept connections within 30s: %v\n%s", s.port, err, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postmaster returns the server's main process id (from postmaster.pid).
func (s *pgServer) postmaster() int {
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// stop shuts the server down at once (SIGQUIT: "immediate", as a crash would, connections
// reset) and waits until it is gone.
func (s *pgServer) stop() {
	if s.cmd == nil {
		return
	}
	if pid := s.postmaster(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// pause stops (SIGSTOP) or resumes (SIGCONT) the server and every process it started: the
// kernel accepts connections, nothing answers, as with a stuck server.
func (s *pgServer) pause(stop bool) {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	pm := s.postmaster()
	if pm <= 0 {
		return
	}
	_ = syscall.Kill(pm, sig)
	if !stop && s.cmd != nil && s.cmd.Process.Pid != pm {
		// runuser stops itself when its child stops (job control) and waits to be continued.
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			_ = syscall.Kill(pid, sig)
		}
	}
}

func (s *pgServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(b)
}

func (s *pgServer) url(db string) string {
	return "postgres://postgres@" + s.addr() + "/" + db + "?sslmode=disable"
}

// exec runs SQL statements (simple protocol, several allowed) on database db.
func (s *pgServer) exec(db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url(db))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// mustExec runs SQL on the test database, failing the test on an error.
func (s *pgServer) mustExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if err := s.exec(testDatabase, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
