package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// bridgeEnv is a node that loads emqx_bridge_mqtt at start with bridge "aws" forwarding
// data/# to 127.0.0.1:remotePort over MQTT 3.1.1, with a durable queue.
func bridgeEnv(t *testing.T, work string, remotePort int, startType string) ([]string, int) {
	env, port := nodeEnv(t, work)
	return append(env,
		"EMQX_LOADED_PLUGINS=emqx_bridge_mqtt",
		"EMQX_BRIDGE__MQTT__AWS__ADDRESS=127.0.0.1:"+strconv.Itoa(remotePort),
		"EMQX_BRIDGE__MQTT__AWS__START_TYPE="+startType,
		"EMQX_BRIDGE__MQTT__AWS__FORWARDS=data/#",
		"EMQX_BRIDGE__MQTT__AWS__RECONNECT_INTERVAL=300ms",
		"EMQX_BRIDGE__MQTT__AWS__QUEUE__REPLAYQ_SEG_BYTES=64KB",
		"EMQX_LOG__TO=console", "EMQX_LOG__LEVEL=info",
	), port
}

var queuedRe = regexp.MustCompile(`queued: (\d+) `)

// bridgeQueued reads the queued messages of bridge aws from `emqx_ctl bridges list`.
func bridgeQueued(t *testing.T, ctl, work string, env []string) int {
	t.Helper()
	out, code := run(t, work, env, ctl, "bridges", "list")
	m := queuedRe.FindStringSubmatch(out)
	if code != 0 || !strings.HasPrefix(out, "name: aws     status: ") || m == nil {
		t.Fatalf("bridges list: exit %d\n%s", code, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// bridgeRemote is the remote broker of a kill -9 case: a second emqx process or mosquitto,
// with a plain listener (the test's subscriber) and, for TLS cases, a TLS one (the bridge).
type bridgeRemote struct {
	port, tlsPort int
	start         func(t *testing.T)
}

// emqxRemote prepares a second node of ours as the remote; started later.
func emqxRemote(t *testing.T, emqx, certs string) *bridgeRemote {
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	r := &bridgeRemote{port: port, tlsPort: freePort(t)}
	env = append(env, "EMQX_NODE__NAME=remote@127.0.0.1",
		"EMQX_LISTENER__SSL__EXTERNAL=127.0.0.1:"+strconv.Itoa(r.tlsPort),
		"EMQX_LISTENER__SSL__EXTERNAL__CERTFILE="+filepath.Join(certs, certgen.Files.Cert),
		"EMQX_LISTENER__SSL__EXTERNAL__KEYFILE="+filepath.Join(certs, certgen.Files.Key))
	r.start = func(t *testing.T) { startNode(t, emqx, work, env, port) }
	return r
}

// mosquittoRemote prepares mosquitto as the remote; started later, stopped when the test
// ends. Without mosquitto the case skips, except in CI where it fails.
func mosquittoRemote(t *testing.T, certs string) *bridgeRemote {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("mosquitto is not installed (tools/ci/deps.sh installs it)")
			}
			t.Skip("mosquitto is not installed (make test-deps installs it)")
		}
		bin = "/usr/sbin/mosquitto"
	}
	r := &bridgeRemote{port: freePort(t), tlsPort: freePort(t)}
	dir := t.TempDir()
	conf := fmt.Sprintf("per_listener_settings false\nallow_anonymous true\nlistener %d 127.0.0.1\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n",
		r.port, r.tlsPort, filepath.Join(certs, certgen.Files.Cert), filepath.Join(certs, certgen.Files.Key))
	file := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start = func(t *testing.T) {
		cmd := exec.Command(bin, "-c", file)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.port)); err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("mosquitto did not listen:\n%s", out.String())
			}
		}
	}
	return r
}

// testCerts writes a certificate set for the TLS cases (readable by mosquitto, which drops
// to its own user when started as root).
func testCerts(t *testing.T) string {
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// Not under t.TempDir(), whose parent only root may enter.
	dir, err := os.MkdirTemp("", "bridge-certs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := set.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, f := range []string{certgen.Files.Key, certgen.Files.ClientKey} {
		os.Chmod(filepath.Join(dir, f), 0o644)
	}
	return dir
}

// TestBridgeOutageKill9: the remote is down; N QoS 1 messages are published locally and the
// local broker is killed with SIGKILL as soon as the last PUBACK arrives; it is started
// again, the remote comes up: all N arrive, in order, under the bridge's mountpoint. For
// MQTT 3.1.1 and 5, over TCP and TLS, to a second broker of ours and to mosquitto.
func TestBridgeOutageKill9(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	certs := testCerts(t)
	cases := []struct {
		name, remote, proto string
		tls, full           bool // full: also the API, queue directory and SIGTERM checks
	}{
		{name: "emqx-mqttv4-tcp", remote: "emqx", proto: "mqttv4", full: true},
		{name: "emqx-mqttv5-tls", remote: "emqx", proto: "mqttv5", tls: true},
		{name: "mosquitto-mqttv4-tcp", remote: "mosquitto", proto: "mqttv4"},
		{name: "mosquitto-mqttv5-tls", remote: "mosquitto", proto: "mqttv5", tls: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var remote *bridgeRemote
			if tc.remote == "mosquitto" {
				remote = mosquittoRemote(t, certs)
			} else {
				remote = emqxRemote(t, emqx, certs)
			}
			remotePort := remote.port
			if tc.tls {
				remotePort = remote.tlsPort
			}
			work := t.TempDir()
			env, port := bridgeEnv(t, work, remotePort, "auto")
			env = append(env, "EMQX_BRIDGE__MQTT__AWS__PROTO_VER="+tc.proto)
			if tc.tls {
				env = append(env, "EMQX_BRIDGE__MQTT__AWS__SSL=on",
					"EMQX_BRIDGE__MQTT__AWS__CACERTFILE="+filepath.Join(certs, certgen.Files.CACert),
					"EMQX_BRIDGE__MQTT__AWS__CERTFILE="+filepath.Join(certs, certgen.Files.ClientCert),
					"EMQX_BRIDGE__MQTT__AWS__KEYFILE="+filepath.Join(certs, certgen.Files.ClientKey))
			}
			bridgeKill9(t, emqx, ctl, work, env, port, remote, tc.full)
		})
	}
}

// bridgeKill9 runs one case of TestBridgeOutageKill9.
func bridgeKill9(t *testing.T, emqx, ctl, work string, env []string, port int, remote *bridgeRemote, full bool) {
	local := startNode(t, emqx, work, env, port)
	const n = 300
	pub := pahoClient(t, port, "pub", "", true, nil)
	// Incompressible 8 KiB payloads: the queue's work per message exceeds the loop's, so that
	// without the bridge's hold on the PUBACKs the kill would catch messages not yet written.
	filler := make([]byte, 8<<10)
	rand.Read(filler)
	toks := make([]mqtt.Token, n)
	for i := range n {
		toks[i] = pub.Publish("data/x", 1, false, append([]byte(fmt.Sprintf("%05d", i)), filler...))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	// Every PUBACK arrived: each message is in the bridge's queue, written by its log.
	local.kill(t, syscall.SIGKILL)

	// Restarted with start_type = manual, so that the remote's subscriber is there before the
	// bridge sends.
	env = append(env, "EMQX_BRIDGE__MQTT__AWS__START_TYPE=manual")
	local = startNode(t, emqx, work, env, port)
	if q := bridgeQueued(t, ctl, work, env); q != n {
		t.Fatalf("after kill -9 right after the last PUBACK and a restart the bridge queue holds %d messages, want %d\n%s", q, n, local.log())
	}
	if full {
		checkBridgeAPI(t, env, n)
	}
	remote.start(t)
	got := make(chan string, 2*n)
	o := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + strconv.Itoa(remote.port)).SetClientID("remote-sub").SetAutoReconnect(false).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		got <- m.Topic() + " " + string(m.Payload()[:min(5, len(m.Payload()))])
	})
	sub := mqtt.NewClient(o)
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(0)
	if tok := sub.Subscribe("bridge/aws/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if out, code := run(t, work, env, ctl, "bridges", "start", "aws"); code != 0 || out != "Start bridge successfully.\n" {
		t.Fatalf("bridges start aws: exit %d %q\n%s", code, out, local.log())
	}
	next := 0
	for next < n {
		select {
		case m := <-got:
			topic, payload, _ := strings.Cut(m, " ")
			if topic != "bridge/aws/emqx@127.0.0.1/data/x" {
				t.Fatalf("remote received topic %q", topic)
			}
			i, _ := strconv.Atoi(payload)
			switch {
			case i < next: // a resend (at least once)
			case i == next:
				next++
			default:
				t.Fatalf("message %d arrived while %d was expected: lost or out of order", i, next)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%d of %d messages reached the remote\n%s", next, n, local.log())
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for bridgeQueued(t, ctl, work, env) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("bridge queue still holds %d messages after the remote took them all", bridgeQueued(t, ctl, work, env))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !full {
		return
	}
	if _, err := os.Stat(work + "/data/emqx_aws_bridge"); err != nil {
		t.Errorf("the queue directory of the embedded configuration: %v", err)
	}
	// A graceful stop with the bridge connected.
	local.kill(t, syscall.SIGTERM)
	if code := local.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("SIGTERM with a connected bridge: exit %d\n%s", code, local.log())
	}
	// `bridges start` outlives the restart (start_type is manual), and so does `bridges stop`
	// with start_type = auto.
	bridgeRunning := func() bool {
		out, _ := run(t, work, env, ctl, "bridges", "list")
		return strings.HasPrefix(out, "name: aws     status: Running\n")
	}
	local = startNode(t, emqx, work, env, port)
	for deadline := time.Now().Add(10 * time.Second); !bridgeRunning(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bridge started by bridges start is not running after a restart\n%s", local.log())
		}
	}
	if out, code := run(t, work, env, ctl, "bridges", "stop", "aws"); code != 0 || out != "Stop bridge successfully.\n" {
		t.Fatalf("bridges stop aws: exit %d %q", code, out)
	}
	local.kill(t, syscall.SIGTERM)
	env = append(env, "EMQX_BRIDGE__MQTT__AWS__START_TYPE=auto")
	local = startNode(t, emqx, work, env, port)
	time.Sleep(time.Second) // an auto start would have connected by now: the remote is up
	if bridgeRunning() {
		t.Fatalf("bridge stopped by bridges stop runs again after a restart with start_type = auto\n%s", local.log())
	}
}

// checkBridgeAPI: GET /api/v4/bridges and /metrics show bridge aws with queued messages.
func checkBridgeAPI(t *testing.T, env []string, queued int) {
	t.Helper()
	addr := apiAddrOf(env)
	get := func(path string, auth bool) string {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if auth {
			req.SetBasicAuth("admin", "public")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/api/v4/bridges", true); !strings.Contains(body, fmt.Sprintf(`"name":"aws","status":"stopped","queued":%d,`, queued)) {
		t.Errorf("GET /api/v4/bridges: %s", body)
	}
	if body := get("/metrics", false); !strings.Contains(body, fmt.Sprintf(`emqx_bridge_queued_messages{bridge="aws"} %d`, queued)) {
		t.Errorf("/metrics has no emqx_bridge_queued_messages{bridge=\"aws\"} %d", queued)
	}
}
