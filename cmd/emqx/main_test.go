package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/tools/freeport"
)

var (
	buildOnce          sync.Once
	builtEmqx, builtCt string
	buildErr           error
)

// buildBinaries compiles emqx and emqx_ctl once per test run into a directory removed by
// TestMain.
func buildBinaries(t *testing.T) (emqx, ctl string) {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(binDir, "bin")
		builtEmqx, builtCt = filepath.Join(dir, "emqx"), filepath.Join(dir, "emqx_ctl")
		for out, pkg := range map[string]string{builtEmqx: ".", builtCt: "../emqx_ctl"} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtEmqx, builtCt
}

var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "emqx-cmd-test")
	if err != nil {
		panic(err)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t *testing.T) int {
	return freeport.Must(t)
}

// nodeEnv returns an environment that puts the node on free loopback ports with its files in
// a temporary directory.
func nodeEnv(t *testing.T, work string) (env []string, port int) {
	port = freePort(t)
	env = append(os.Environ(),
		"EMQX_NODE__HOME="+work,
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:"+strconv.Itoa(port),
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_NODE__DATA_DIR="+filepath.Join(work, "data"),
		"EMQX_LOG__DIR="+filepath.Join(work, "log"),
	)
	return env, port
}

// apiAddrOf returns the HTTP API's address that env (nodeEnv's) gives the node.
func apiAddrOf(env []string) string {
	addr := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "EMQX_MANAGEMENT__LISTENER__HTTP="); ok {
			addr = v
		}
	}
	return addr
}

func run(t *testing.T, dir string, env []string, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), code
}

func TestStartStatusStop(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)

	out, code := run(t, work, env, ctl, "status")
	if code == 0 || !strings.Contains(out, "not responding") {
		t.Fatalf("status before start: %d %q", code, out)
	}
	out, code = run(t, work, env, emqx, "start")
	if code != 0 || !strings.Contains(out, "started successfully") {
		t.Fatalf("start: %d %q", code, out)
	}
	t.Cleanup(func() { run(t, work, env, emqx, "stop") })
	if out, code = run(t, work, env, emqx, "ping"); code != 0 || out != "pong\n" {
		t.Fatalf("ping: %d %q", code, out)
	}
	if out, code = run(t, work, env, ctl, "status"); code != 0 || !strings.Contains(out, "Node 'emqx@127.0.0.1' is started") || !strings.Contains(out, "is running") {
		t.Fatalf("status: %d %q", code, out)
	}
	out, code = run(t, work, env, ctl, "broker")
	for _, want := range []string{"sysdescr", "version", "uptime", "datetime"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("broker: %d %q lacks %q", code, out, want)
		}
	}
	// The node serves MQTT on the port from the environment.
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: []byte("cli")}))
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || !bytes.Equal(buf, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK % x, %v", buf, err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(work, "data", "emqx.pid")); err != nil {
		t.Fatalf("pid file: %v", err)
	}

	if out, code = run(t, work, env, emqx, "stop"); code != 0 || out != "ok\n" {
		t.Fatalf("stop: %d %q", code, out)
	}
	if out, code = run(t, work, env, ctl, "status"); code == 0 {
		t.Fatalf("status after stop: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(work, "data", "emqx.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left after stop: %v", err)
	}
}

func TestSigtermDisconnectsV5Clients(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	cmd := exec.Command(emqx, "foreground")
	cmd.Dir, cmd.Env = work, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	var err error
	for range 100 {
		if c, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("broker did not listen: %v\n%s", err, out.String())
	}
	defer c.Close()
	c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V5, CleanStart: true, ClientID: []byte("v5")}))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil || n < 2 || buf[0] != 0x20 {
		t.Fatalf("CONNACK: % x %v", buf[:n], err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(buf)
	if err != nil || n < 3 || buf[0] != 0xE0 || codec.ReasonCode(buf[2]) != codec.ServerShuttingDown {
		t.Fatalf("after SIGTERM got % x (%v), want DISCONNECT 0x8B", buf[:n], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("broker did not exit within 20s of SIGTERM")
	}
}

func TestBadConfigNamesFileLineKey(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	conf := filepath.Join(work, "emqx.conf")
	os.WriteFile(conf, []byte("node.name = emqx@127.0.0.1\n\nmqtt.max_packet_size = 10XB\nmqtt.max_clientid_lenn = 5\n"), 0o644)
	out, code := run(t, work, os.Environ(), emqx, "-c", conf, "foreground")
	if code == 0 {
		t.Fatalf("broken config accepted: %q", out)
	}
	for _, want := range []string{conf + ":3: mqtt.max_packet_size", conf + ":4: mqtt.max_clientid_lenn", "did you mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	env := append(os.Environ(), "EMQX_MQTT__MAX_QOS_ALLOWED=7")
	out, code = run(t, work, env, emqx, "check_config")
	if code == 0 || !strings.Contains(out, "EMQX_MQTT__MAX_QOS_ALLOWED") {
		t.Fatalf("bad env value: %d %q", code, out)
	}
}
