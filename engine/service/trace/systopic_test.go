package trace

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

func TestEscapeLevel(t *testing.T) {
	for in, want := range map[string]string{
		"c1": "c1", "": "", "dev/1": "dev%2F1", "t/+": "t%2F%2B", "a/#": "a%2F%23", "50%": "50%25",
		"$SYS/#": "$SYS%2F%23", "é/ü": "é%2Fü",
	} {
		if got := EscapeLevel(in); got != want {
			t.Errorf("EscapeLevel(%q) = %q, want %q", in, got, want)
		}
	}
	if got := TopicOf("emqx@127.0.0.1", Topic, "t/+"); got != "$SYS/brokers/emqx@127.0.0.1/trace/topic/t%2F%2B" {
		t.Errorf("TopicOf = %q", got)
	}
}

// withDefaultACL runs the node with the shipped acl.conf.
func withDefaultACL(c *engine.Config) { c.ACL, c.ACLNoMatch = acl.Default(), acl.Allow }

// subscribeRC subscribes c to filter at QoS 0 and returns the reason code granted.
func subscribeRC(t *testing.T, c *paho.Client, filter string) byte {
	t.Helper()
	sa, err := c.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter}}})
	if sa != nil && len(sa.Reasons) == 1 {
		return sa.Reasons[0] // paho reports a refusal as an error too
	}
	t.Fatalf("subscribe %q: %v", filter, err)
	return 0
}

// collect gathers the payloads received on topic until one contains want.
func collect(t *testing.T, in *inbox, topic, want string, got []string) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-in.ch:
			if p.Topic != topic {
				continue
			}
			if p.QoS != 0 || p.Retain {
				t.Errorf("%s: QoS %d retain %v, want QoS 0, not retained", p.Topic, p.QoS, p.Retain)
			}
			got = append(got, string(p.Payload))
			if strings.Contains(string(p.Payload), want) {
				return got
			}
		case <-deadline:
			t.Fatalf("no line with %q on %s; got:\n%s", want, topic, strings.Join(got, "\n"))
		}
	}
}

// TestLiveTraceTopics: with Publish, every line of a client trace and of a topic trace is
// also published to its $SYS/brokers/<node>/trace/... topic (the name escaped into one
// level), exactly as written to the file; the shipped acl.conf refuses the topics to a
// stranger; nothing is published once the traces stop.
func TestLiveTraceTopics(t *testing.T) {
	n, addr := startNodeWith(t, withDefaultACL)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir, Publish: true})

	// One watcher per trace: collect skips the other topics' messages.
	w, in := client(t, addr, &paho.Connect{ClientID: "watcher", CleanStart: true})
	if rc := subscribeRC(t, w, "$SYS/brokers/+/trace/client/#"); rc != 0 {
		t.Fatalf("SUBACK %#x for a local client, want 0", rc)
	}
	w2, in2 := client(t, addr, &paho.Connect{ClientID: "watcher2", CleanStart: true})
	if rc := subscribeRC(t, w2, "$SYS/brokers/+/trace/topic/+"); rc != 0 {
		t.Fatalf("SUBACK %#x for a local client, want 0", rc)
	}
	stranger, sin := clientFrom(t, addr, &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, &paho.Connect{ClientID: "stranger", CleanStart: true})
	if rc := subscribeRC(t, stranger, "$SYS/brokers/+/trace/#"); rc != 0x87 {
		t.Fatalf("SUBACK %#x for a stranger, want 0x87 (acl.conf denies $SYS/#)", rc)
	}

	if err := s.Start(Client, "dev/1", "dev.log", "debug"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(Topic, "t/+", "topic.log", ""); err != nil {
		t.Fatal(err)
	}
	clientTopic := "$SYS/brokers/" + n.Name() + "/trace/client/dev%2F1"
	topicTopic := "$SYS/brokers/" + n.Name() + "/trace/topic/t%2F%2B"
	dev, _ := client(t, addr, &paho.Connect{ClientID: "dev/1", CleanStart: true})
	if _, err := dev.Publish(ctx(t), &paho.Publish{Topic: "t/1", QoS: 1, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	_ = dev.Disconnect(&paho.Disconnect{})

	var lines []string
	lines = collect(t, in, clientTopic, "dev/1 disconnected: client sent DISCONNECT", lines)
	inOrder(t, strings.Join(lines, "\n"),
		"[info] trace of client dev/1 started (level debug",
		"[debug] dev/1 RECV CONNECT(client_id=dev/1",
		"[info] dev/1 connected from 127.0.0.1:",
		"[debug] dev/1 RECV PUBLISH(topic=t/1, qos=1",
		"[debug] dev/1 SEND PUBACK(packet_id=1",
		"[info] dev/1 disconnected: client sent DISCONNECT",
	)
	tl := collect(t, in2, topicTopic, `PUBLISH to t/1 from dev/1 (qos=1, retain=false, payload_size=5, payload="hello", receivers=0)`, nil)

	// The published lines are the file's lines.
	file := waitFile(t, filepath.Join(dir, "dev.log"), "dev/1 disconnected")
	for _, l := range lines {
		if !strings.Contains(file, l+"\n") {
			t.Errorf("published line not in the file: %q", l)
		}
	}
	if tf := waitFile(t, filepath.Join(dir, "topic.log"), "PUBLISH to t/1"); !strings.Contains(tf, tl[len(tl)-1]+"\n") {
		t.Errorf("published topic line %q not in the file:\n%s", tl[len(tl)-1], tf)
	}

	if err := s.Stop(Client, "dev/1"); err != nil {
		t.Fatal(err)
	}
	collect(t, in, clientTopic, "[info] trace of client dev/1 stopped", nil)
	if err := s.Stop(Topic, "t/+"); err != nil {
		t.Fatal(err)
	}
	collect(t, in2, topicTopic, "[info] trace of topic t/+ stopped", nil)

	// No trace: nothing more is published.
	client(t, addr, &paho.Connect{ClientID: "dev/1", CleanStart: true})
	select {
	case p := <-in.ch:
		t.Errorf("published with no trace running: %s %q", p.Topic, p.Payload)
	case p := <-in2.ch:
		t.Errorf("published with no trace running: %s %q", p.Topic, p.Payload)
	case p := <-sin.ch:
		t.Errorf("the stranger received %s", p.Topic)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestLiveTraceNoFeedback: a traced client subscribed to its own live topic receives each
// line once (the lines of the PUBLISH packets carrying them are written to the file only),
// and a topic trace of $SYS/# does not trace the live lines: nothing keeps flowing.
func TestLiveTraceNoFeedback(t *testing.T) {
	n, addr := startNodeWith(t, withDefaultACL)
	dir := t.TempDir()
	s := startService(t, n, Options{Dir: dir, Publish: true})
	if err := s.Start(Client, "self", "self.log", "debug"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(Topic, "$SYS/#", "sys.log", ""); err != nil {
		t.Fatal(err)
	}
	self, in := client(t, addr, &paho.Connect{ClientID: "self", CleanStart: true})
	own := TopicOf(n.Name(), Client, "self")
	if rc := subscribeRC(t, self, own); rc != 0 {
		t.Fatalf("SUBACK %#x", rc)
	}
	if _, err := self.Publish(ctx(t), &paho.Publish{Topic: "x/1", QoS: 0, Payload: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, in, own, `RECV PUBLISH(topic=x/1`, nil)
	// Let any feedback show: a loop would keep lines coming.
	quiet := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case p := <-in.ch:
			got = append(got, string(p.Payload))
			if len(got) > 50 {
				t.Fatalf("lines keep coming (feedback):\n%s", strings.Join(got, "\n"))
			}
		case <-quiet:
			done = true
		}
	}
	for _, l := range got {
		if strings.Contains(l, "SEND PUBLISH(topic="+own) {
			t.Errorf("a line about a live trace line was published: %q", l)
		}
	}
	file := waitFile(t, filepath.Join(dir, "self.log"), "SEND PUBLISH(topic="+own)
	if !strings.Contains(file, `RECV PUBLISH(topic=x/1`) {
		t.Errorf("self.log:\n%s", file)
	}
	if err := s.Stop(Topic, "$SYS/#"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "sys.log"))
	if strings.Contains(string(b), "/trace/") {
		t.Errorf("the $SYS/# topic trace traced live trace lines:\n%s", b)
	}
}
