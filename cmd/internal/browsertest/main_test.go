package browsertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emqgo/emqgo/engine/service/dashboard"
	"github.com/emqgo/emqgo/tools/freeport"
)

// The package's one browser and binaries, made by TestMain.
var (
	browser   context.Context // chromium's root context; each test opens its own tab
	binDir    string
	setupErr  error // why the tests cannot run (no chromium, no npm files, a build failure)
	inCI      = os.Getenv("CI") == "true"
	buildOnce sync.Once
)

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "emqgo-browsertest")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		binDir = dir
		chromium, err := exec.LookPath("chromium")
		switch {
		case err != nil:
			setupErr = fmt.Errorf("Debian's chromium is not installed (make test-deps installs it): %v", err)
		case dashboard.VendorMissing():
			setupErr = fmt.Errorf("the dashboard's npm files are missing from this build: run make dashboard-npm")
		}
		if setupErr != nil {
			return m.Run()
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium),
			chromedp.NoSandbox, // tests run as root in CI
			chromedp.Headless,
			chromedp.DisableGPU,
			chromedp.WindowSize(1280, 800),
			chromedp.Flag("lang", "en-US"),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		defer cancelAlloc()
		ctx, cancel := chromedp.NewContext(alloc)
		defer cancel()
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			setupErr = fmt.Errorf("cannot start chromium: %v", err)
			return m.Run()
		}
		browser = ctx
		return m.Run()
	}()
	os.Exit(code)
}

// needBrowser stops a test that cannot run: a failure in CI, a skip elsewhere.
func needBrowser(t *testing.T) {
	t.Helper()
	if setupErr == nil {
		return
	}
	if inCI {
		t.Fatal(setupErr)
	}
	t.Skip(setupErr)
}

// binaries builds bin/emqx and bin/emqx_ctl once for the package.
func binaries(t *testing.T) (emqx, ctl string) {
	t.Helper()
	var err error
	buildOnce.Do(func() {
		var out []byte
		out, err = exec.Command("go", "build", "-o", binDir+"/", "github.com/emqgo/emqgo/cmd/emqx", "github.com/emqgo/emqgo/cmd/emqx_ctl").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(binDir, "emqx"), filepath.Join(binDir, "emqx_ctl")
}

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t *testing.T) int {
	return freeport.Must(t)
}

// node is a running bin/emqx with every port on 127.0.0.1.
type node struct {
	env                 []string
	work                string
	mqtt, ws, api, dash int
	dashURL, apiURL     string
	cmd                 *exec.Cmd
	out                 *strings.Builder
	outMu               sync.Mutex
}

func (n *node) log() string {
	n.outMu.Lock()
	defer n.outMu.Unlock()
	return n.out.String()
}

type lockedWriter struct{ n *node }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.n.outMu.Lock()
	defer w.n.outMu.Unlock()
	return w.n.out.Write(b)
}

// startNode runs bin/emqx foreground from the shipped configuration (the dashboard loaded by
// default), stopped with SIGTERM when the test ends.
func startNode(t *testing.T) *node {
	t.Helper()
	emqx, _ := binaries(t)
	n := &node{work: t.TempDir(), out: &strings.Builder{}}
	n.mqtt, n.ws, n.api, n.dash = freePort(t), freePort(t), freePort(t), freePort(t)
	n.env = append(os.Environ(),
		"EMQX_NODE__HOME="+n.work,
		"EMQX_NODE__DATA_DIR="+filepath.Join(n.work, "data"),
		"EMQX_LOG__DIR="+filepath.Join(n.work, "log"),
		"EMQX_LOG__TO=console",
		"EMQX_LOG__LEVEL=info",
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:"+strconv.Itoa(n.mqtt),
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:"+strconv.Itoa(n.ws),
		"EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(n.api),
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(n.dash),
	)
	n.dashURL = "http://127.0.0.1:" + strconv.Itoa(n.dash)
	n.apiURL = "http://127.0.0.1:" + strconv.Itoa(n.api)
	n.cmd = exec.Command(emqx, "foreground")
	n.cmd.Dir, n.cmd.Env = n.work, n.env
	n.cmd.Stdout, n.cmd.Stderr = lockedWriter{n}, lockedWriter{n}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			n.cmd.Process.Kill()
			<-done
			t.Errorf("emqx did not stop on SIGTERM:\n%s", n.log())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(n.apiURL + "/metrics")
		if err == nil {
			resp.Body.Close()
			if r2, err := http.Get(n.dashURL + "/"); err == nil {
				r2.Body.Close()
				return n
			}
		}
		select {
		case err := <-done:
			t.Fatalf("emqx exited during start-up: %v\n%s", err, n.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("emqx did not serve the API and the dashboard within 15 s:\n%s", n.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiGet calls the HTTP API on its own port with the default application.
func (n *node) apiGet(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", n.apiURL+path, nil)
	req.SetBasicAuth("admin", "public")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// ctl runs bin/emqx_ctl against the node.
func (n *node) ctl(t *testing.T, args ...string) string {
	t.Helper()
	_, ctl := binaries(t)
	cmd := exec.Command(ctl, args...)
	cmd.Dir, cmd.Env = n.work, n.env
	out, _ := cmd.CombinedOutput()
	return string(out)
}
