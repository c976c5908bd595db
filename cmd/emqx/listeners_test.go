package main

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// emqx_ctl listeners prints EMQX 4's blocks; stop closes the listener's clients and refuses
// new ones, start lets them in again, restart closes them once more.
func TestCtlListeners(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	env = append(env, "EMQX_LISTENER__TCP__INTERNAL__PROXY_PROTOCOL=on")
	foreground(t, emqx, work, env)

	m, err := dialMQTT(port, "lis")
	if err != nil {
		t.Fatal(err)
	}
	defer m.c.Close()
	out, code := run(t, work, env, ctl, "listeners")
	want := "mqtt:tcp:external\n" +
		"  listen_on       : 127.0.0.1:" + strconv.Itoa(port) + "\n" +
		"  acceptors       : "
	if code != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("listeners: exit %d, want it to start with\n%s\ngot:\n%s", code, want, out)
	}
	for _, line := range []string{"  proxy_protocol  : false\n  running         : true\n  max_conns       : 1024000\n  current_conn    : 1\n  shutdown_count  : []\n",
		"mqtt:tcp:internal\n", "  proxy_protocol  : true\n"} {
		if !strings.Contains(out, line) {
			t.Fatalf("listeners output lacks %q:\n%s", line, out)
		}
	}

	if out, code := run(t, work, env, ctl, "listeners", "stop", "tcp:external"); code != 0 || out != "Stop mqtt:tcp:external listener successfully.\n" {
		t.Fatalf("listeners stop: exit %d %q", code, out)
	}
	m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(m.r); err != nil {
		t.Fatalf("client of the stopped listener not closed: %v", err)
	}
	if m2, err := dialMQTT(port, "refused"); err == nil {
		m2.c.Close()
		t.Fatal("a stopped listener accepted a client")
	}
	out, _ = run(t, work, env, ctl, "listeners")
	if !strings.Contains(out, "  running         : false\n") || !strings.Contains(out, "{listener_stopped,1},{closed_by_stop,1}") {
		t.Fatalf("stopped listener:\n%s", out)
	}
	if out, code := run(t, work, env, ctl, "listeners", "stop", "tcp:external"); code != 1 || !strings.Contains(out, "already stopped") {
		t.Fatalf("second stop: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "listeners", "start", "mqtt:tcp:external"); code != 0 || out != "Started mqtt:tcp:external listener successfully.\n" {
		t.Fatalf("listeners start: exit %d %q", code, out)
	}
	m3, err := dialMQTT(port, "again")
	if err != nil {
		t.Fatalf("after start: %v", err)
	}
	defer m3.c.Close()
	if out, code := run(t, work, env, ctl, "listeners", "restart", "tcp:external"); code != 0 || out != "Restarted mqtt:tcp:external listener successfully.\n" {
		t.Fatalf("listeners restart: exit %d %q", code, out)
	}
	m3.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(m3.r); err != nil {
		t.Fatalf("client not closed by restart: %v", err)
	}
	if m4, err := dialMQTT(port, "after-restart"); err != nil {
		t.Fatalf("after restart: %v", err)
	} else {
		m4.c.Close()
	}
	if out, code := run(t, work, env, ctl, "listeners", "stop", "tcp:nosuch"); code != 1 || !strings.Contains(out, "no such listener") {
		t.Fatalf("stop of an unknown listener: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "listeners", "pause", "tcp:external"); code != 1 || !strings.Contains(out, "listeners restart <Identifier>") {
		t.Fatalf("listeners pause: exit %d %q", code, out)
	}

	// EMQX 3.2's form: listeners stop <Proto> <ListenOn>.
	p := strconv.Itoa(port)
	if out, code := run(t, work, env, ctl, "listeners", "stop", "mqtt:tcp", "127.0.0.1:"+p); code != 0 || out != "Stop mqtt:tcp listener on 127.0.0.1:"+p+" successfully.\n" {
		t.Fatalf("listeners stop mqtt:tcp 127.0.0.1:%s: exit %d %q", p, code, out)
	}
	if m5, err := dialMQTT(port, "refused-again"); err == nil {
		m5.c.Close()
		t.Fatal("the listener stopped by the 3.2 form accepted a client")
	}
	if out, code := run(t, work, env, ctl, "listeners", "start", "tcp:external"); code != 0 {
		t.Fatalf("listeners start: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "listeners", "stop", "mqtt:tcp", p); code != 0 || out != "Stop mqtt:tcp listener on "+p+" successfully.\n" {
		t.Fatalf("listeners stop mqtt:tcp %s: exit %d %q", p, code, out)
	}
	if out, code := run(t, work, env, ctl, "listeners", "stop", "mqtt:ssl", p); code != 1 || out != "Failed to stop mqtt:ssl listener on "+p+", error:not_found\n" {
		t.Fatalf("listeners stop mqtt:ssl %s: exit %d %q", p, code, out)
	}
}
