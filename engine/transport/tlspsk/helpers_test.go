package tlspsk

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/tools/freeport"
)

// needTool skips the test when name is not installed, outside CI; in CI (CI=true) it fails.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (tools/ci/deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed (tools/ci/deps.sh installs it)", name)
	}
	return p
}

// keys is a GetKey over a map.
func keys(m map[string]string) func(string) ([]byte, bool) {
	return func(id string) ([]byte, bool) {
		k, ok := m[id]
		return []byte(k), ok
	}
}

// echoServer accepts connections on a loopback port and serves each with a PSK server that
// answers every line with "echo:"+line, then closes after the client's first line. The
// handshake results are sent on the returned channel.
func echoServer(t *testing.T, cfg *Config) (addr string, results <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	ch := make(chan error, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := Server(nc, cfg)
				defer c.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				err := c.Handshake()
				ch <- err
				if err != nil {
					return
				}
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("echo:" + strings.TrimSpace(line) + " suite:" + CipherSuiteName(c.ConnectionState().CipherSuite) + "\n"))
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t *testing.T) string {
	return strconv.Itoa(freeport.Must(t))
}
