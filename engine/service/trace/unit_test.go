package trace

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

func TestMatch(t *testing.T) {
	f := func(filter, topic string, want bool) {
		t.Helper()
		if got := match(splitLevels(filter), []byte(topic)); got != want {
			t.Errorf("match(%q, %q) = %v, want %v", filter, topic, got, want)
		}
	}
	f("#", "a", true)
	f("#", "a/b/c", true)
	f("#", "$SYS/x", false)
	f("+/b", "$SYS/b", false)
	f("$SYS/#", "$SYS/x/y", true)
	f("a/#", "a", true)
	f("a/#", "a/b/c", true)
	f("a/#", "b", false)
	f("a/+", "a/b", true)
	f("a/+", "a/b/c", false)
	f("a/+", "a", false)
	f("a/+/c", "a/b/c", true)
	f("a/+/c", "a/b/d", false)
	f("a/b", "a/b", true)
	f("a/b", "a/bc", false)
	f("a/b", "a/b/c", false)
	f("+", "", true)
	f("a//b", "a//b", true)
	f("a/+/b", "a//b", true)
}

// TestDropsReported: lines the full queue dropped are counted in the file before the next
// line written.
func TestDropsReported(t *testing.T) {
	s := &Service{opts: Options{MaxBytes: 1 << 20}}
	tr := &trace{key: key{Client, "c"}}
	tr.path = t.TempDir() + "/d.log"
	f, err := openTrace(tr.path)
	if err != nil {
		t.Fatal(err)
	}
	tr.file = f
	if _, err := tr.start(time.Now(), "start"); err != nil {
		t.Fatal(err)
	}
	tr.dropped.Add(3)
	s.handle(record{t: tr, at: time.Now(), level: LevelDebug, text: "after the drops"}, nil)
	done := make(chan struct{})
	s.handle(record{t: tr, end: "stopped", done: done}, nil)
	<-done
	b := readAll(t, tr.path)
	if !strings.Contains(b, "[warning] 3 lines dropped: the trace queue was full\n") || !strings.Contains(b, "[debug] after the drops\n") ||
		strings.Index(b, "3 lines dropped") > strings.Index(b, "after the drops") {
		t.Errorf("file:\n%s", b)
	}
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUntracedEventsAllocNothing: while a trace runs, the hooks cost the packets and
// messages of the clients and topics nobody traces no allocation.
func TestUntracedEventsAllocNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	s := &Service{}
	clients := map[string]*trace{"traced": {key: key{Client, "traced"}}}
	topics := []*trace{{key: key{Topic, "a/+"}, filter: splitLevels("a/+")}}
	s.clients.Store(&clients)
	s.topics.Store(&topics)
	pub := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("b/1"), Payload: []byte("x")}, codec.V5)
	bufs := [][]byte{pub}
	msg := &sessions.Message{Topic: []byte("b/1"), Payload: []byte("x"), From: "other"}
	allocs := testing.AllocsPerRun(100, func() {
		s.packetIn("other", codec.V5, pub)
		s.packetsOut("other", codec.V5, bufs)
		s.published(msg, 1)
		s.dropped("other", msg, "queue_full")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per untraced event", allocs)
	}
}
