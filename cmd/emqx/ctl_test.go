package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCtlOffline: help works with no node, and a command that needs one names the socket it
// tried.
func TestCtlOffline(t *testing.T) {
	_, ctl := buildBinaries(t)
	work := t.TempDir()
	env, _ := nodeEnv(t, work)
	for _, args := range [][]string{{"--help"}, {"help"}, {}} {
		out, code := run(t, work, env, ctl, args...)
		if code != 0 || !strings.Contains(out, "acl reload") || !strings.Contains(out, "broker metrics") || !strings.Contains(out, "data verify") {
			t.Errorf("emqx_ctl %v without a node: exit %d\n%s", args, code, out)
		}
	}
	out, code := run(t, work, env, ctl, "status")
	sock := filepath.Join(work, "data", "emqx_ctl.sock")
	if code == 0 || !strings.Contains(out, "not responding") || !strings.Contains(out, sock) {
		t.Errorf("status without a node: exit %d, want the socket path %s:\n%s", code, sock, out)
	}
	// Every command of EMQX's emqx_ctl is served now (ctl.Planned is empty): without a node
	// each one says the node does not answer.
	out, code = run(t, work, env, ctl, "retainer", "info")
	if code == 0 || !strings.Contains(out, "not responding") {
		t.Errorf("retainer info without a node: exit %d %q", code, out)
	}
}

// TestCtlCommands checks the commands of a running node: argument checks, the 3.x form
// `broker metrics`, commands of later issues, and `acl reload` with good and bad files.
func TestCtlCommands(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work) // home: work, which has no etc/acl.conf: the embedded rules apply
	// Any machine uses more than 1% of its memory: the system memory alarm is raised at start.
	env = append(env, "EMQX_OS_MON__SYSMEM_HIGH_WATERMARK=1%")
	foreground(t, emqx, work, env)

	waitAlarm := time.Now().Add(5 * time.Second)
	for {
		out, code := run(t, work, env, ctl, "alarms")
		if code == 0 && strings.HasPrefix(out, "Alarms on emqx@") && strings.Contains(out, "name: high_system_memory_usage, message: System memory usage is higher than 1%") {
			break
		}
		if time.Now().After(waitAlarm) {
			t.Fatalf("alarms: exit %d, want the system memory alarm:\n%s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, code := run(t, work, env, ctl, "alarms", "history"); code != 0 || !strings.HasPrefix(out, "Cleared alarms on emqx@") {
		t.Errorf("alarms history: exit %d:\n%s", code, out)
	}
	if out, code := run(t, work, env, ctl, "alarms", "bogus"); code == 0 || !strings.Contains(out, "alarms history") {
		t.Errorf("alarms bogus: exit %d, want usage:\n%s", code, out)
	}

	if out, code := run(t, work, env, ctl, "status", "extra"); code == 0 || !strings.Contains(out, "status  ") {
		t.Errorf("status extra: exit %d, want usage:\n%s", code, out)
	}
	if out, code := run(t, work, env, ctl, "broker", "metrics"); code != 0 || !strings.Contains(out, "packets.connect") && !strings.Contains(out, "packets.received") {
		t.Errorf("broker metrics: exit %d:\n%s", code, out)
	}
	if out, code := run(t, work, env, ctl, "broker", "nonsense"); code == 0 || !strings.Contains(out, "broker stats") {
		t.Errorf("broker nonsense: exit %d:\n%s", code, out)
	}
	if out, code := run(t, work, env, ctl, "banned", "add", "--type=client_id", "--value=evil", "--reason=spam"); code != 0 || out != "ok\n" {
		t.Errorf("banned add: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "banned", "list"); code != 0 || !strings.Contains(out, "type=client_id, value=evil, reason=spam, by=emqx_ctl") {
		t.Errorf("banned list: exit %d %q", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(work, "data", "banned.json")); err != nil || !strings.Contains(string(b), `"evil"`) {
		t.Errorf("data/banned.json after banned add: %v %s", err, b)
	}
	if out, code := run(t, work, env, ctl, "banned", "del", "--type=client_id", "--value=evil"); code != 0 || out != "ok\n" {
		t.Errorf("banned del: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "bridges", "list"); code == 0 || out != "bridges: plugin emqx_bridge_mqtt is not loaded (emqx_ctl plugins load emqx_bridge_mqtt)\n" {
		t.Errorf("bridges list without the plugin: exit %d %q", code, out)
	}
	if out, code := run(t, work, env, ctl, "nosuch"); code == 0 || !strings.Contains(out, "unknown command") {
		t.Errorf("nosuch: exit %d %q", code, out)
	}

	if code := subackCode(t, port, "secret/x"); code != 0 {
		t.Fatalf("secret/x under the embedded rules: %#x", code)
	}
	aclFile := filepath.Join(work, "etc", "acl.conf")
	os.MkdirAll(filepath.Dir(aclFile), 0o755)
	os.WriteFile(aclFile, []byte("{deny, all, subscribe, [\"secret/#\"]}.\n{allow, all}.\n"), 0o644)
	if out, code := run(t, work, env, ctl, "acl", "reload"); code != 0 || out != "ok\n" {
		t.Fatalf("acl reload: exit %d %q", code, out)
	}
	if code := subackCode(t, port, "secret/x"); code != 0x80 {
		t.Errorf("secret/x after reload: %#x, want 0x80", code)
	}
	os.WriteFile(aclFile, []byte("{allow, all}.\n{deny, nobody, here}.\n"), 0o644)
	out, code := run(t, work, env, ctl, "acl", "reload")
	if code == 0 || !strings.Contains(out, aclFile+":2") {
		t.Errorf("acl reload of a broken file: exit %d, want %s:2 in:\n%s", code, aclFile, out)
	}
	if code := subackCode(t, port, "secret/x"); code != 0x80 {
		t.Errorf("secret/x after a failed reload: %#x, want the rules in force (0x80)", code)
	}
	if out, code := run(t, work, env, ctl, "acl"); code == 0 || !strings.Contains(out, "acl reload") {
		t.Errorf("acl: exit %d %q", code, out)
	}
}
