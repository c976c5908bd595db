// Package ferrettest runs a MongoDB-protocol server for tests: FerretDB v1 over SQLite, built
// from the project's tools/ferretdb module (its own go.mod, so that FerretDB's dependencies stay
// out of the broker's) once per test binary, and started on 127.0.0.1 with plain and TLS
// listeners on free ports (a certificate for 127.0.0.1 signed by a CA of its own), its
// databases in a directory of its own. A Server is used by one test goroutine at a time; Stop
// it at the end.
package ferrettest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/emqgo/emqgo/engine/backend/testpki"
)

// Database is the database the tests fill (EMQX's default, auth.mongo.database).
const Database = "mqtt"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// build compiles tools/ferretdb, once per process, into the user's cache directory
// (emqgo-ferrettest/ferretdb there): one binary for every test run, replaced atomically, so
// that test binaries building it at the same time never see a partial file and nothing is left
// behind per run. Go's build cache makes the builds after the first quick.
func build() (string, error) {
	buildOnce.Do(func() {
		_, self, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "tools", "ferretdb")
		if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
			buildErr = fmt.Errorf("tools/ferretdb not found: %w", err)
			return
		}
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir := filepath.Join(base, "emqgo-ferrettest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		tmp := filepath.Join(dir, "ferretdb."+strconv.Itoa(os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, ".")
		cmd.Dir = src
		// Built as it is: no flags of the environment (-race, -cover), go.sum never rewritten,
		// no version-control stamp (a worktree's .git may be elsewhere).
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			buildErr = fmt.Errorf("building tools/ferretdb: %v\n%s", err, out)
			return
		}
		binary = filepath.Join(dir, "ferretdb")
		if err := os.Rename(tmp, binary); err != nil {
			os.Remove(tmp)
			buildErr = err
		}
	})
	return binary, buildErr
}

// Server is a FerretDB process: on 127.0.0.1:Port, and over TLS on TLSPort, its SQLite files in
// Dir (kept across Stop and Start).
type Server struct {
	Port    int
	TLSPort int
	Dir     string
	pki     *testpki.PKI
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start builds the server if needed and starts it on a free port with its files under dir.
func Start(dir string) (*Server, error) {
	if _, err := build(); err != nil {
		return nil, err
	}
	pki, err := testpki.Write(dir, pkix.Name{CommonName: "ferrettest client"})
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s := &Server{Port: freePort(), TLSPort: freePort(), Dir: dir, pki: pki}
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs the server on its port and waits until it accepts connections.
func (s *Server) Start() error {
	s.cmd = exec.Command(binary, "-listen", s.Addr(), "-dir", filepath.Join(s.Dir, "data"), "-v",
		"-tls", "127.0.0.1:"+strconv.Itoa(s.TLSPort), "-cert", s.pki.Path(testpki.CertFile), "-key", s.pki.Path(testpki.KeyFile))
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "ferretdb.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.cmd.Stderr = logFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return err
	}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("cannot start ferretdb: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); logFile.Close(); close(s.exited) }()
	select {
	case <-ready:
	case <-s.exited:
		log, _ := os.ReadFile(filepath.Join(s.Dir, "ferretdb.log"))
		s.cmd = nil
		return fmt.Errorf("ferretdb on port %d exited: %v\n%s", s.Port, waitErr, log)
	case <-time.After(20 * time.Second):
		s.Stop()
		return fmt.Errorf("ferretdb on port %d not ready within 20s", s.Port)
	}
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		s.Stop()
		return fmt.Errorf("ferretdb on port %d: %w", s.Port, err)
	}
	c.Close()
	return nil
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

// TLSConfig trusts the server's CA.
func (s *Server) TLSConfig() *tls.Config { return s.pki.ClientTLS() }

// CAFile is the path of the CA's certificate (PEM).
func (s *Server) CAFile() string { return s.pki.Path(testpki.CAFile) }

// Addr is the server's address, host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Insert replaces the collection's documents with docs (none: the collection is emptied).
func (s *Server) Insert(t *testing.T, collection string, docs ...bson.M) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + s.Addr() + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database(Database).Collection(collection)
	if _, err := coll.DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatalf("emptying %s: %v", collection, err)
	}
	if len(docs) == 0 {
		return
	}
	many := make([]any, len(docs))
	for i, d := range docs {
		many[i] = d
	}
	if _, err := coll.InsertMany(ctx, many); err != nil {
		t.Fatalf("inserting into %s: %v", collection, err)
	}
}
