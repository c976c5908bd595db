package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitContains waits until the file at path contains want and returns its content.
func waitContains(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in:\n%s", path, want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCtlTrace runs the guide's trace commands against a node: a client trace and a topic
// trace through the control socket, real MQTT 3.1.1 clients, `trace list`, `trace stop`,
// and the files' content.
func TestCtlTrace(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	env = append(env, "EMQX_LOG__TO=file")
	foreground(t, emqx, work, env)
	ctlOK := func(want string, args ...string) {
		t.Helper()
		out, code := run(t, work, env, ctl, args...)
		if code != 0 || out != want {
			t.Fatalf("emqx_ctl %v: exit %d %q, want %q", args, code, out, want)
		}
	}
	ctlFails := func(want string, args ...string) {
		t.Helper()
		out, code := run(t, work, env, ctl, args...)
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("emqx_ctl %v: exit %d %q, want a failure with %q", args, code, out, want)
		}
	}

	ctlOK("", "trace", "list")
	ctlOK("trace client clientid successfully\n", "trace", "start", "client", "clientid", "trace_clientid.log", "debug")
	ctlOK("trace topic t/# successfully\n", "trace", "start", "topic", "t/#", "trace_topic.log")
	ctlFails("[error] trace client clientid: already_existed", "trace", "start", "client", "clientid", "other.log")
	ctlFails("invalid level", "trace", "start", "client", "x", "x.log", "chatty")
	ctlFails("trace start client <ClientId> <File> [<Level>]", "trace", "start", "client")
	ctlOK("Trace(client=clientid, level=debug, destination=\""+filepath.Join(work, "trace_clientid.log")+"\")\n"+
		"Trace(topic=t/#, level=all, destination=\""+filepath.Join(work, "trace_topic.log")+"\")\n", "trace", "list")

	// The live trace topic of the topic trace, read by a local client (acl.conf allows it).
	live := make(chan string, 100)
	watcher := pahoClient(t, port, "watcher", "", true, live)
	if tok := watcher.Subscribe("$SYS/brokers/+/trace/topic/#", 0, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	got := make(chan string, 10)
	sub := pahoClient(t, port, "clientid", "", true, got)
	if tok := sub.Subscribe("t/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := pahoClient(t, port, "publisher", "", true, nil)
	if tok := pub.Publish("t/1", 1, false, "hello"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	recv(t, got, "t/1 hello")
	for seen := false; !seen; {
		select {
		case m := <-live:
			seen = strings.HasPrefix(m, "$SYS/brokers/emqx@127.0.0.1/trace/topic/t%2F%23 ") &&
				strings.Contains(m, `[info] PUBLISH to t/1 from publisher (qos=1, retain=false, payload_size=5, payload="hello", receivers=1)`)
		case <-time.After(5 * time.Second):
			t.Fatal("no live trace line of the PUBLISH to t/1 on $SYS/brokers/<node>/trace/topic/t%2F%23")
		}
	}
	// paho acknowledges after the handler returns, on its own goroutine: wait for the PUBACK to be
	// traced before disconnecting, or a loaded machine may see the DISCONNECT first.
	waitContains(t, filepath.Join(work, "trace_clientid.log"), "clientid RECV PUBACK(packet_id=1)")
	sub.Disconnect(250) // with a quiesce time, paho sends its DISCONNECT before closing

	clientLog := waitContains(t, filepath.Join(work, "trace_clientid.log"), "clientid disconnected: client sent DISCONNECT")
	topicLog := waitContains(t, filepath.Join(work, "trace_topic.log"), "PUBLISH to t/1 from publisher")
	ctlOK("stop tracing client clientid successfully\n", "trace", "stop", "client", "clientid")
	ctlOK("stop tracing topic t/# successfully\n", "trace", "stop", "topic", "t/#")
	ctlFails("[error] stop tracing topic t/#: not_found", "trace", "stop", "topic", "t/#")
	ctlOK("", "trace", "list")

	for _, want := range []string{
		"[debug] clientid RECV CONNECT(client_id=clientid, proto_ver=3.1.1, clean_start=true",
		"[info] clientid connected from 127.0.0.1:",
		"[debug] clientid SEND CONNACK(session_present=false, reason_code=0x00",
		"[debug] clientid RECV SUBSCRIBE(packet_id=",
		"[debug] clientid SEND SUBACK(packet_id=",
		`[debug] clientid SEND PUBLISH(topic=t/1, qos=1, retain=false, dup=false, packet_id=1, payload_size=5, payload="hello")`,
		"[debug] clientid RECV PUBACK(packet_id=1)",
		"[debug] clientid RECV DISCONNECT(",
	} {
		if !strings.Contains(clientLog, want) {
			t.Errorf("client trace has no %q:\n%s", want, clientLog)
		}
	}
	if strings.Contains(clientLog, "publisher RECV") {
		t.Errorf("another client's packets in the client trace:\n%s", clientLog)
	}
	if !strings.Contains(topicLog, `[info] PUBLISH to t/1 from publisher (qos=1, retain=false, payload_size=5, payload="hello", receivers=1)`) {
		t.Errorf("topic trace:\n%s", topicLog)
	}
	final, _ := os.ReadFile(filepath.Join(work, "trace_clientid.log"))
	if !strings.HasSuffix(string(final), "trace of client clientid stopped\n") {
		t.Errorf("client trace does not end with the stop line:\n%s", final)
	}
}
