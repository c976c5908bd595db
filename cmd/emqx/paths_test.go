package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// subackCode subscribes to filter at QoS 0 and returns the SUBACK return code.
func subackCode(t *testing.T, port int, filter string) byte {
	t.Helper()
	m, err := dialMQTT(port, "paths-"+strconv.Itoa(int(time.Now().UnixNano()%1e6)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.c.Close()
	sub := &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(filter)}}}
	if _, err := m.c.Write(codec.AppendSubscribe(nil, sub, codec.V311)); err != nil {
		t.Fatal(err)
	}
	m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pkt, err := m.read()
	if err != nil || pkt[0] != 0x90 || len(pkt) != 5 {
		t.Fatalf("SUBACK % x: %v", pkt, err)
	}
	return pkt[4]
}

// withoutHome drops EMQX_NODE__HOME from env, so that the binary's location decides.
func withoutHome(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "EMQX_NODE__HOME=") {
			out = append(out, kv)
		}
	}
	return out
}

// releaseLayout makes home/bin/emqx (a hard link to the built binary, so that the
// executable's own path is in home/bin) and home/etc/acl.conf denying subscriptions to
// secret/#, and returns the binary.
func releaseLayout(t *testing.T, emqx, home string) string {
	t.Helper()
	for _, d := range []string{"bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(home, "bin", "emqx")
	if err := os.Link(emqx, bin); err != nil {
		t.Fatalf("link the binary into a release layout: %v", err)
	}
	rules := "{deny, all, subscribe, [\"secret/#\"]}.\n{allow, all}.\n"
	if err := os.WriteFile(filepath.Join(home, "etc", "acl.conf"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestPathsResolveAgainstHome starts a node from a directory that has no etc/: its relative
// paths (acl_file = etc/acl.conf, node.data_dir = data, log.dir = log) resolve against the
// directory above its bin/, the rules of that acl.conf apply, and one info line says so.
func TestPathsResolveAgainstHome(t *testing.T) {
	emqx, _ := buildBinaries(t)
	home := t.TempDir()
	bin := releaseLayout(t, emqx, home)
	elsewhere := t.TempDir()
	port := freePort(t)
	env := append(withoutHome(os.Environ()),
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:"+strconv.Itoa(port),
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LOG__LEVEL=info", "EMQX_LOG__TO=console")
	out := foreground(t, bin, elsewhere, env)
	paths := linesWith(out.String(), "msg=paths")
	if len(paths) != 1 {
		t.Fatalf("want one paths line:\n%s", out.String())
	}
	for _, want := range []string{"home=" + home, "acl_file=" + filepath.Join(home, "etc", "acl.conf"),
		"data_dir=" + filepath.Join(home, "data"), "log_dir=" + filepath.Join(home, "log"),
		"persistence_dir=" + filepath.Join(home, "data", "store")} {
		if !strings.Contains(paths[0], want) {
			t.Errorf("paths line lacks %q: %s", want, paths[0])
		}
	}
	if _, err := os.Stat(filepath.Join(home, "data", "emqx_ctl.sock")); err != nil {
		t.Errorf("control socket not in <home>/data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "data")); !os.IsNotExist(err) {
		t.Errorf("the node wrote data/ in its working directory: %v", err)
	}
	if code := subackCode(t, port, "secret/x"); code != 0x80 {
		t.Errorf("subscribe secret/x: return code %#x, want 0x80 from <home>/etc/acl.conf", code)
	}
	if code := subackCode(t, port, "public/x"); code != 0 {
		t.Errorf("subscribe public/x: return code %#x, want 0", code)
	}
}

// TestHomeFlag: --home names the home of a binary that is not in a bin/ directory.
func TestHomeFlag(t *testing.T) {
	emqx, _ := buildBinaries(t)
	home := t.TempDir()
	releaseLayout(t, emqx, home)
	port := freePort(t)
	env := append(withoutHome(os.Environ()),
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:"+strconv.Itoa(port),
		"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:"+strconv.Itoa(freePort(t)),
		"EMQX_LOG__TO=console")
	// The built binary's own home (above its bin/) has no etc/acl.conf; --home wins.
	foreground(t, emqx, t.TempDir(), env, "--home", home)
	if code := subackCode(t, port, "secret/x"); code != 0x80 {
		t.Errorf("subscribe secret/x: return code %#x, want 0x80 from --home's etc/acl.conf", code)
	}
}

// TestMissingNamedACLFile: an acl_file that the configuration names and that does not exist
// stops start-up with an error naming where it was set and the file; the embedded rules
// apply only when nothing names a file.
func TestMissingNamedACLFile(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, _ := nodeEnv(t, work)
	missing := filepath.Join(work, "etc", "acl.conf")

	out, code := run(t, work, env, emqx, "check_config")
	if code != 0 {
		t.Fatalf("default acl_file, no file: check_config failed: %s", out)
	}
	conf := filepath.Join(work, "my.conf")
	os.WriteFile(conf, []byte("node.name = emqx@127.0.0.1\nacl_file = etc/acl.conf\n"), 0o644)
	out, code = run(t, work, env, emqx, "-c", conf, "foreground")
	if want := conf + ":2: acl_file: file " + missing + " does not exist"; code == 0 || !strings.Contains(out, want) {
		t.Fatalf("named in a file: exit %d, output lacks %q:\n%s", code, want, out)
	}
	out, code = run(t, work, append(env, "EMQX_ACL_FILE=nope.conf"), emqx, "check_config")
	if want := "environment variable EMQX_ACL_FILE: acl_file: file " + filepath.Join(work, "nope.conf") + " does not exist"; code == 0 || !strings.Contains(out, want) {
		t.Fatalf("named in the environment: exit %d, output lacks %q:\n%s", code, want, out)
	}
	// A file that exists but does not parse names its own line.
	os.MkdirAll(filepath.Dir(missing), 0o755)
	os.WriteFile(missing, []byte("{allow, all}.\n{deny, nobody}.\n"), 0o644)
	out, code = run(t, work, env, emqx, "-c", conf, "check_config")
	if code == 0 || !strings.Contains(out, missing+":2") {
		t.Fatalf("bad acl file: exit %d, output lacks %s:2:\n%s", code, missing, out)
	}
}
