package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestRetainedAPIDeleteIsDurable: RetainedMessages lists by filter with offset and limit and
// copies payloads; DeleteRetained removes a message from memory and from the store (it stays
// gone after a restart on the same store while the others come back), routes nothing, and
// answers ErrNoRetained for a topic without one.
func TestRetainedAPIDeleteIsDurable(t *testing.T) {
	dir := t.TempDir()
	n1, addr := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	for _, tp := range []string{"r/a", "r/b", "r/c", "other"} {
		if _, err := n1.Publish(tp, []byte("p-"+tp), 1, true, "api"); err != nil {
			t.Fatal(err)
		}
	}
	total, page, err := n1.RetainedMessages("r/+", 1, 1)
	if err != nil || total != 3 || len(page) != 1 {
		t.Fatalf("r/+ offset 1 limit 1: total %d, %d messages, %v", total, len(page), err)
	}
	page[0].Payload[0] = 'X' // a copy: the index keeps its own
	if m, ok := n1.Retained(page[0].Topic); !ok || string(m.Payload) != "p-"+page[0].Topic || m.From != "api" || m.QoS != 1 {
		t.Fatalf("Retained(%s) = %+v %v", page[0].Topic, m, ok)
	}
	if _, _, err := n1.RetainedMessages("r/#/x", 0, 0); err == nil {
		t.Fatal("a malformed filter was accepted")
	}
	live, _ := mustConnect(t, addr, codec.V5, "live", nil)
	live.subscribe(1, 0, sub("r/#", 0))
	for range 3 {
		live.recvPublish() // the retained replay
	}
	if err := n1.DeleteRetained("r/b"); err != nil {
		t.Fatal(err)
	}
	if err := n1.DeleteRetained("r/b"); !errors.Is(err, ErrNoRetained) {
		t.Fatalf("second delete: %v, want ErrNoRetained", err)
	}
	live.silent(200 * time.Millisecond)
	live.c.Close()
	waitConns(t, n1, 0)
	stopNode(t, n1)

	n2, _ := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
	total, all, _ := n2.RetainedMessages("#", 0, 0)
	got := map[string]bool{}
	for _, m := range all {
		got[m.Topic] = true
	}
	if total != 3 || !got["r/a"] || !got["r/c"] || !got["other"] || got["r/b"] {
		t.Fatalf("after restart: %d retained %v, want r/a, r/c, other", total, got)
	}
}
