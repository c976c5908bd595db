package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// mqttJSScript connects MQTT.js over ws:// or wss:// (URL in argv[2], MQTT version in argv[3]),
// subscribes to js/in at QoS 2, announces "ready" on js/out, then publishes on js/out each
// message it receives on js/in at the QoS it arrived with, prefixed "echo:", and prints
// every message it receives; it exits after three.
const mqttJSScript = `
const mqtt = require('mqtt');
const url = process.argv[2], version = parseInt(process.argv[3], 10);
const c = mqtt.connect(url, {protocolVersion: version, clientId: 'js-' + version, reconnectPeriod: 0, connectTimeout: 5000});
let n = 0;
c.on('error', (e) => { console.error('error', e.message); process.exit(2); });
c.on('connect', () => {
  c.subscribe('js/in', {qos: 2}, (err) => {
    if (err) { console.error('subscribe', err.message); process.exit(3); }
    c.publish('js/out', 'ready', {qos: 1});
  });
});
c.on('message', (topic, payload, packet) => {
  console.log('got ' + topic + ' ' + packet.qos + ' ' + payload.length);
  c.publish('js/out', 'echo:' + payload.toString().slice(0, 16), {qos: packet.qos}, () => {
    if (++n === 3) c.end(false, {}, () => process.exit(0));
  });
});
setTimeout(() => { console.error('timeout'); process.exit(4); }, 15000);
`

// MQTT.js (npm, pinned by tools/ci/npm.sh) over ws:// as MQTT 3.1.1 and 5: QoS 0, 1 and 2
// both ways with a Go TCP client, one payload of 4 KiB.
func TestWebSocketMQTTJS(t *testing.T) {
	modules := mqttJSModules(t)
	_, tcpAddr, wsAddr := wsNode(t, nil, nil)
	runMQTTJS(t, modules, "ws://"+wsAddr+"/mqtt", tcpAddr, nil)
}

// mqttJSModules installs the pinned MQTT.js (once) and returns its node_modules path.
func mqttJSModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if testing.Short() {
			t.Skip("node not installed (-short)")
		}
		t.Fatal("node is needed for the MQTT.js tests: apt-get install nodejs npm")
	}
	out, err := exec.Command("../tools/ci/npm.sh").Output()
	if err != nil {
		t.Fatalf("tools/ci/npm.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// runMQTTJS runs mqttJSScript against url as MQTT 3.1.1 and 5, with a Go client on tcpAddr
// feeding it and checking its echoes. env is added to node's environment.
func runMQTTJS(t *testing.T, modules, url, tcpAddr string, env []string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "client.js")
	if err := os.WriteFile(script, []byte(mqttJSScript), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"4", "5"} {
		t.Run("v"+version, func(t *testing.T) {
			r := newReceived()
			gc, _ := v5(t, tcpAddr, &paho.Connect{ClientID: "go-" + version, CleanStart: true}, r)
			sub5(t, gc, "js/out", 2)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", script, url, version)
			cmd.Env = append(append(os.Environ(), "NODE_PATH="+modules), env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case p := <-r.ch:
				if string(p.Payload) != "ready" {
					t.Fatalf("first message %q, want ready", p.Payload)
				}
			case err := <-done:
				t.Fatalf("node exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			case <-time.After(15 * time.Second):
				t.Fatalf("MQTT.js not ready\nstderr:\n%s", stderr.String())
			}
			payloads := []string{"zero", "one", strings.Repeat("k", 4096)}
			for qos, p := range payloads {
				pub5(t, gc, "js/in", byte(qos), p)
			}
			for qos, p := range payloads {
				got := r.next(t)
				if want := "echo:" + p[:min(len(p), 16)]; string(got.Payload) != want || got.QoS != byte(qos) {
					t.Fatalf("echo %d: %q QoS %d, want %q QoS %d", qos, got.Payload, got.QoS, want, qos)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			want := "got js/in 0 4\ngot js/in 1 3\ngot js/in 2 4096\n"
			if stdout.String() != want {
				t.Fatalf("MQTT.js printed %q, want %q", stdout.String(), want)
			}
		})
	}
}
