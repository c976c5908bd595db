package authredis

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// redisServer is a redis-server process of the tests: on 127.0.0.1, no persistence, its
// files in a temporary directory.
type redisServer struct {
	port   int
	dir    string
	pki    *testpki.PKI // set: TLS only on port, clients must present a certificate of pki's CA
	extra  []string     // more options of redis-server (cluster mode, replicaof)
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
}

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none. sharedTLS is a second server speaking only TLS (auth.redis.ssl), sharedTLSErr why
// there is none.
var (
	shared       *redisServer
	sharedErr    error
	sharedTLS    *redisServer
	sharedTLSErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authredis-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = startRedisServer(dir, nil)
	sharedTLS, sharedTLSErr = startTLSRedisServer(dir)
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	if sharedTLS != nil {
		sharedTLS.stop()
	}
	stopTopologies()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needRedis returns the shared server. Its absence is a broken setup (`make test-deps`
// installs redis-server), so the test fails; under -short it is skipped with the same advice.
func needRedis(t *testing.T) *redisServer {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
}

// startRedisServer starts redis-server on a free port, with its files under dir; with pki,
// the port speaks TLS only.
func startRedisServer(dir string, pki *testpki.PKI) (*redisServer, error) {
	return startRedisServerWith(dir, pki, nil)
}

// startRedisServerWith is startRedisServer with more redis-server options; with
// "--cluster-enabled" the port chosen also has its cluster bus port (+10000) free.
func startRedisServerWith(dir string, pki *testpki.PKI, extra []string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found (Debian package redis-server): run `make test-deps`")
	}
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if slices.Contains(extra, "--cluster-enabled") && !portFree(port+10000) {
			lastErr = fmt.Errorf("no free port whose cluster bus port (+10000) is free too")
			continue
		}
		d := filepath.Join(dir, strconv.Itoa(port))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		s := &redisServer{port: port, dir: d, pki: pki, extra: extra}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// start runs the server on its port and waits until it answers PING.
func (s *redisServer) start() error {
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}
	if s.pki != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", s.pki.Path(testpki.CertFile), "--tls-key-file", s.pki.Path(testpki.KeyFile),
			"--tls-ca-cert-file", s.pki.Path(testpki.CAFile), "--tls-auth-clients", "yes")
	}
	s.cmd = exec.Command("redis-server", append(args, s.extra...)...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("cannot start redis-server: %w", err)
	}
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); close(s.exited) }()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: time.Second, TLSConfig: s.clientTLS()})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %v\n%s", s.port, waitErr, log)
		default:
		}
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits until the process is gone.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// pause stops (SIGSTOP) or resumes (SIGCONT) the server: connections are accepted by the
// kernel but nothing answers, as with a stuck server.
func (s *redisServer) pause(stop bool) {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	_ = s.cmd.Process.Signal(sig)
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client returns a Go client of the server to fill it; closed with the test.
func (s *redisServer) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr(), TLSConfig: s.clientTLS()})
	t.Cleanup(func() { c.Close() })
	return c
}

// do runs one command on the server, failing the test on an error.
func do(t *testing.T, c *redis.Client, args ...any) {
	t.Helper()
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
}
