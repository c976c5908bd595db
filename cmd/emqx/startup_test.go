package main

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// foreground runs `emqx foreground` with args until the test ends, waits until it says it
// is running and returns its output (which keeps growing).
func foreground(t *testing.T, emqx, dir string, env []string, args ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command(emqx, append(args, "foreground")...)
	cmd.Dir, cmd.Env = dir, env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "is running now!") {
		select {
		case <-done:
			t.Fatalf("emqx foreground exited during start-up:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not running within 15s:\n%s", out.String())
		}
	}
	return out
}

func linesWith(out, s string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestStartupWarnings checks what a node started with the shipped configuration says about
// what it does not do: one warning line of keys without effect grouped by owner, one warning
// per port not served, and a "node started" line that names the node once.
func TestStartupWarnings(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, _ := nodeEnv(t, work)
	env = append(env, "EMQX_LOG__LEVEL=info", "EMQX_NODE__PROCESS_LIMIT=4096")
	buf := foreground(t, emqx, work, env)
	// The log is written by its own goroutine: the start-up lines may follow "is running
	// now!" on a busy machine. "node started" is the last of them.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(buf.String(), "node started") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	out := buf.String()

	lines := linesWith(out, "accepted without effect")
	if len(lines) != 1 {
		t.Fatalf("want one line of keys without effect, got %d:\n%s", len(lines), out)
	}
	l := lines[0]
	for _, want := range []string{"level=WARN", "retainer.storage_type (superseded by persistence.*)",
		"management.max_row_limit", "rpc.{async_batch_size,", "node.{", "process_limit"} {
		if !strings.Contains(l, want) {
			t.Errorf("warning line lacks %q:\n%s", want, l)
		}
	}
	// Keys that act are not on it (mqtt_piggyback: engine/transport/ws_piggyback.go;
	// busy_dist_port: the $SYS service's cluster route monitor; cluster.proto_dist and
	// cluster.ssl: TLS between nodes).
	for _, acts := range []string{"mqtt_piggyback", "busy_dist_port", "cluster.proto_dist", "cluster.ssl"} {
		if strings.Contains(l, acts) {
			t.Errorf("warning line lists %s, which acts:\n%s", acts, l)
		}
	}
	// The work directory has no etc/certs: the TLS listeners (ssl and wss) say so.
	for key, port := range map[string]string{"listener.ssl.external": "8883", "listener.wss.external": "8084"} {
		if ls := linesWith(out, key+" not served: "); len(ls) != 1 || !strings.Contains(ls[0], "address=:"+port) ||
			!strings.Contains(ls[0], "etc/certs/cert.pem does not exist") {
			t.Errorf("want one warning for %s without certificates, got %q", key, ls)
		}
	}
	if ls := linesWith(out, "listener started"); !strings.Contains(strings.Join(ls, "\n"), "listener=ws:external") {
		t.Errorf("no \"listener started\" line for ws:external: %q", ls)
	}
	// The dashboard is loaded by default, on the port nodeEnv gave it.
	if ls := linesWith(out, "dashboard listening"); len(ls) != 1 || !strings.Contains(ls[0], "key=dashboard.listener.http") {
		t.Errorf("want one \"dashboard listening\" line for dashboard.listener.http, got %q", ls)
	}
	// The HTTP API serves: no warning for its port, and its keys are not among those without
	// effect.
	if ls := linesWith(out, "management.listener.http not available"); len(ls) != 0 {
		t.Errorf("the served HTTP API port is reported as not available: %q", ls)
	}
	for _, key := range []string{"management.listener.http,", "management.listener.http.max_clients", "default_application"} {
		if strings.Contains(l, key) {
			t.Errorf("warning line lists %s, which acts:\n%s", key, l)
		}
	}
	if ls := linesWith(out, "HTTP API listening"); len(ls) != 1 {
		t.Errorf("want one \"HTTP API listening\" line, got %q", ls)
	}
	started := linesWith(out, "node started")
	if len(started) != 1 || strings.Count(started[0], "node=") != 1 {
		t.Errorf("\"node started\" line: %q", started)
	}
}
