package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
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

// TestBridgeOutageKill9: the remote (a second broker process) is down; N QoS 1 messages are
// published locally, each acknowledged; the local broker is killed with SIGKILL and started
// again; the remote comes up: all N arrive, in order, under the bridge's mountpoint.
func TestBridgeOutageKill9(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	remoteWork := t.TempDir()
	remoteEnv, remotePort := nodeEnv(t, remoteWork)
	remoteEnv = append(remoteEnv, "EMQX_NODE__NAME=remote@127.0.0.1")
	work := t.TempDir()
	env, port := bridgeEnv(t, work, remotePort, "auto")
	local := startNode(t, emqx, work, env, port)

	const n = 1000
	pub := pahoClient(t, port, "pub", "", true, nil)
	for i := range n {
		tok := pub.Publish("data/x", 1, false, fmt.Sprintf("%05d", i))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	// Every message acknowledged to the publisher is in the bridge's queue; the queue's log
	// writes it to the operating system within milliseconds.
	deadline := time.Now().Add(10 * time.Second)
	for bridgeQueued(t, ctl, work, env) != n {
		if time.Now().After(deadline) {
			t.Fatalf("bridge queue holds %d messages, want %d", bridgeQueued(t, ctl, work, env), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	local.kill(t, syscall.SIGKILL)

	// Restarted with start_type = manual, so that the remote's subscriber is there before the
	// bridge sends.
	env = append(env, "EMQX_BRIDGE__MQTT__AWS__START_TYPE=manual")
	local = startNode(t, emqx, work, env, port)
	if q := bridgeQueued(t, ctl, work, env); q != n {
		t.Fatalf("after kill -9 and restart the bridge queue holds %d messages, want %d\n%s", q, n, local.log())
	}
	checkBridgeAPI(t, env, n)
	startNode(t, emqx, remoteWork, remoteEnv, remotePort)
	got := make(chan string, 2*n)
	o := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + strconv.Itoa(remotePort)).SetClientID("remote-sub").SetAutoReconnect(false).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) })
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
	deadline = time.Now().Add(10 * time.Second)
	for bridgeQueued(t, ctl, work, env) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("bridge queue still holds %d messages after the remote took them all", bridgeQueued(t, ctl, work, env))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(work + "/data/emqx_aws_bridge"); err != nil {
		t.Errorf("the queue directory of the embedded configuration: %v", err)
	}
	// A graceful stop with the bridge connected.
	local.kill(t, syscall.SIGTERM)
	if code := local.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("SIGTERM with a connected bridge: exit %d\n%s", code, local.log())
	}
}

// checkBridgeAPI: GET /api/v4/bridges and /metrics show bridge aws with queued messages.
func checkBridgeAPI(t *testing.T, env []string, queued int) {
	t.Helper()
	var addr string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "EMQX_MANAGEMENT__LISTENER__HTTP="); ok {
			addr = v
		}
	}
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
