package trace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// TestClientTrace: every packet of the traced client, in and out, its connection and its
// disconnection reach the file in order, and nothing of other clients.
func TestClientTrace(t *testing.T) {
	n, addr := startNode(t)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir})
	if err := s.Start(Client, "c1", "c1.log", "debug"); err != nil {
		t.Fatal(err)
	}
	c1, in := client(t, addr, &paho.Connect{ClientID: "c1", CleanStart: true, Username: "alice", UsernameFlag: true, Password: []byte("secret"), PasswordFlag: true})
	c2, _ := client(t, addr, &paho.Connect{ClientID: "c2", CleanStart: true})
	if _, err := c1.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Publish(ctx(t), &paho.Publish{Topic: "t/1", QoS: 1, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	in.next(t)
	path := filepath.Join(dir, "c1.log")
	// paho sends the PUBACK from its own goroutine once the handler has returned: without this
	// wait its DISCONNECT below can go first, and the broker then rightly drops the unacknowledged
	// message with the session instead of logging a PUBACK.
	waitFile(t, path, "c1 RECV PUBACK(packet_id=1")
	if _, err := c1.Publish(ctx(t), &paho.Publish{Topic: "u/2", QoS: 0, Payload: []byte("zz")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Unsubscribe(ctx(t), &paho.Unsubscribe{Topics: []string{"t/#"}}); err != nil {
		t.Fatal(err)
	}
	_ = c1.Disconnect(&paho.Disconnect{})
	waitFile(t, path, "c1 disconnected: client sent DISCONNECT")
	if err := s.Stop(Client, "c1"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	content := string(b)
	inOrder(t, content,
		"[info] trace of client c1 started (level debug",
		"[debug] c1 RECV CONNECT(client_id=c1, proto_ver=5.0, clean_start=true, keepalive=30, username=alice, password=******)",
		"[info] c1 connected from 127.0.0.1:",
		"[debug] c1 SEND CONNACK(session_present=false, reason_code=0x00 (success))",
		"[debug] c1 RECV SUBSCRIBE(packet_id=1, topic_filters=[t/# qos=1 nl=false rap=false rh=0])",
		"[debug] c1 SEND SUBACK(packet_id=1, reason_codes=[0x01])",
		`[debug] c1 SEND PUBLISH(topic=t/1, qos=1, retain=false, dup=false, packet_id=1, payload_size=5, payload="hello")`,
		`[debug] c1 RECV PUBLISH(topic=u/2, qos=0, retain=false, dup=false, payload_size=2, payload="zz")`,
		"[warning] c1 message to u/2 from c1 dropped: no_subscribers",
		"[debug] c1 RECV UNSUBSCRIBE(packet_id=2, topic_filters=[t/#])",
		"[debug] c1 SEND UNSUBACK(packet_id=2, reason_codes=[0x00])",
		"[debug] c1 RECV DISCONNECT(reason_code=0x00 (success))",
		"[info] c1 disconnected: client sent DISCONNECT",
		"[info] trace of client c1 stopped",
	)
	inOrder(t, content,
		`[debug] c1 SEND PUBLISH(topic=t/1, qos=1, retain=false, dup=false, packet_id=1, payload_size=5, payload="hello")`,
		"[debug] c1 RECV PUBACK(packet_id=1, reason_code=0x00 (success))",
		`[debug] c1 RECV PUBLISH(topic=u/2, qos=0, retain=false, dup=false, payload_size=2, payload="zz")`,
	)
	if strings.Contains(content, "c2") || strings.Contains(content, "secret") {
		t.Errorf("another client's packets or a password in the trace:\n%s", content)
	}
	if len(s.List()) != 0 {
		t.Errorf("list after stop: %v", s.List())
	}
	// Stopped: the client's packets no longer reach the file.
	client(t, addr, &paho.Connect{ClientID: "c1", CleanStart: true})
	if b2, _ := os.ReadFile(path); string(b2) != content {
		t.Errorf("file changed after stop:\n%s", b2)
	}
}

// TestClientTraceLevel: a trace at info keeps the connection lines, not the packets.
func TestClientTraceLevel(t *testing.T) {
	n, addr := startNode(t)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir})
	if err := s.Start(Client, "c1", "c1.log", "info"); err != nil {
		t.Fatal(err)
	}
	c1, _ := client(t, addr, &paho.Connect{ClientID: "c1", CleanStart: true})
	_ = c1.Disconnect(&paho.Disconnect{})
	content := waitFile(t, filepath.Join(dir, "c1.log"), "c1 disconnected")
	inOrder(t, content, "c1 connected from", "c1 disconnected: client sent DISCONNECT")
	if strings.Contains(content, "[debug]") {
		t.Errorf("debug lines in an info trace:\n%s", content)
	}
}

// TestTopicTrace: every message published to a matching topic, routed or not, with its
// drops; other topics are not traced.
func TestTopicTrace(t *testing.T) {
	n, addr := startNode(t)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir})
	if err := s.Start(Topic, "t/+", "topic.log", ""); err != nil {
		t.Fatal(err)
	}
	sub, in := client(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true})
	if _, err := sub.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/1", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub, _ := client(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	for _, m := range []struct {
		topic string
		qos   byte
	}{{"t/1", 1}, {"t/2", 0}, {"u/1", 0}, {"t/1/deeper", 0}, {"t/9", 1}} { // t/9's PUBACK: the others were handled
		if _, err := pub.Publish(ctx(t), &paho.Publish{Topic: m.topic, QoS: m.qos, Payload: []byte("m-" + m.topic)}); err != nil {
			t.Fatal(err)
		}
	}
	in.next(t)
	if _, err := n.Publish("t/3", []byte("from the node"), 0, false, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "topic.log")
	waitFile(t, path, "t/3")
	if got := s.List(); len(got) != 1 || got[0].Kind != Topic || got[0].Name != "t/+" || got[0].Level != "all" || got[0].File != path {
		t.Errorf("list: %+v", got)
	}
	if err := s.Stop(Topic, "t/+"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	content := string(b)
	inOrder(t, content,
		"trace of topic t/+ started (level all",
		`[info] PUBLISH to t/1 from pub (qos=1, retain=false, payload_size=5, payload="m-t/1", receivers=1)`,
		`[info] PUBLISH to t/2 from pub (qos=0, retain=false, payload_size=5, payload="m-t/2", receivers=0)`,
		"[warning] message to t/2 from pub dropped for pub: no_subscribers",
		`[info] PUBLISH to t/9 from pub (qos=1`,
		`[info] PUBLISH to t/3 from the broker (qos=0, retain=false, payload_size=13, payload="from the node", receivers=0)`,
		"trace of topic t/+ stopped",
	)
	if strings.Contains(content, "u/1") || strings.Contains(content, "deeper") {
		t.Errorf("messages of other topics in the trace:\n%s", content)
	}
}

// TestStartStopErrors: the refusals of Start and Stop, and List's order.
func TestStartStopErrors(t *testing.T) {
	n, _ := startNode(t)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir})
	if err := s.Start(Client, "a", "a.log", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(Client, "a", "other.log", ""); !errors.Is(err, ErrExists) {
		t.Errorf("second trace of a client: %v", err)
	}
	if err := s.Start(Topic, "x/#", filepath.Join(dir, "x.log"), "warning"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(Client, "b", "b.log", "loud"); err == nil || !strings.Contains(err.Error(), `invalid level "loud"`) {
		t.Errorf("bad level: %v", err)
	}
	if err := s.Start(Topic, "x/#/y", "y.log", ""); err == nil || !strings.Contains(err.Error(), "invalid topic filter") {
		t.Errorf("bad filter: %v", err)
	}
	if err := s.Start(Client, "c", filepath.Join(dir, "no/such/dir/c.log"), ""); err == nil || !strings.Contains(err.Error(), "cannot create trace file") {
		t.Errorf("bad file: %v", err)
	}
	if err := s.Stop(Client, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop of no trace: %v", err)
	}
	if err := s.Start(Client, "0", "0.log", "debug"); err != nil {
		t.Fatal(err)
	}
	got := s.List()
	want := []string{"client 0 debug", "client a all", "topic x/# warning"}
	if len(got) != len(want) {
		t.Fatalf("list: %+v", got)
	}
	for i, g := range got {
		if s := string(g.Kind) + " " + g.Name + " " + g.Level; s != want[i] {
			t.Errorf("list[%d] = %q, want %q", i, s, want[i])
		}
	}
	if got[1].File != filepath.Join(dir, "a.log") {
		t.Errorf("relative file not resolved against Dir: %s", got[1].File)
	}
}

// TestSizeLimit: a trace whose file reaches MaxBytes stops by itself, saying so, and the
// file stays within the limit.
func TestSizeLimit(t *testing.T) {
	n, addr := startNode(t)
	dir := t.TempDir()
	const limit = 4000
	s := startService(t, n, Options{Dir: dir, MaxBytes: limit})
	if err := s.Start(Topic, "big/#", "big.log", ""); err != nil {
		t.Fatal(err)
	}
	pub, _ := client(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	path := filepath.Join(dir, "big.log")
	for i := 0; i < 100 && len(s.List()) > 0; i++ {
		if _, err := pub.Publish(ctx(t), &paho.Publish{Topic: "big/1", QoS: 1, Payload: []byte(strings.Repeat("p", 100))}); err != nil {
			t.Fatal(err)
		}
	}
	content := waitFile(t, path, "trace of topic big/# stopped: the file reached its size limit of 4000 bytes")
	if len(content) > limit {
		t.Errorf("file of %d bytes, limit %d", len(content), limit)
	}
	if len(s.List()) != 0 {
		t.Errorf("trace still listed: %+v", s.List())
	}
	if err := s.Stop(Topic, "big/#"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop after the limit: %v", err)
	}
}
