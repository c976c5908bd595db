package bridge

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/service/bridge/replayq"
)

// TestAckedMeansQueuedOnDisk: when a local publisher gets the PUBACK of a QoS 1 message a
// forward matches, the bridge's durable queue has written it: a copy of the queue's files
// taken at that moment (what a kill -9 would leave) holds every acknowledged message.
func TestAckedMeansQueuedOnDisk(t *testing.T) {
	n, addr, _ := startNode(t, "edge@127.0.0.1")
	cfg := baseConfig(fmt.Sprintf("127.0.0.1:%d", freePort(t)), codec.V311) // nobody listens
	cfg.AutoStart = false
	cfg.Forwards = []string{"data/#"}
	cfg.QueueDir = filepath.Join(t.TempDir(), "queue")
	cfg.SegmentBytes = 1 << 20
	cfg.MaxQueueBytes = 1 << 30
	openSet(t, n, cfg, "")
	pub := connectClient(t, addr, "pub")
	// Large incompressible payloads: the queue's work per message (an s2 attempt, the write)
	// exceeds the loop's, so that without the wait the PUBACKs would overtake the queue.
	const per = 500
	filler := make([]byte, 8<<10)
	rand.Read(filler)
	for round := 1; round <= 3; round++ {
		toks := make([]mqtt.Token, per)
		for i := range toks {
			toks[i] = pub.c.Publish("data/x", 1, false, append([]byte(fmt.Sprintf("%d-%d ", round, i)), filler...))
		}
		for i, tok := range toks {
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish %d: %v", i, tok.Error())
			}
		}
		snap := copyDir(t, cfg.QueueDir)
		q, err := replayq.Open(replayq.Options{Dir: snap})
		if err != nil {
			t.Fatal(err)
		}
		got := q.Stats().Count
		q.Close()
		if got != round*per {
			t.Fatalf("round %d: the queue's files hold %d messages when the last PUBACK arrives, want %d", round, got, round*per)
		}
	}
}

// copyDir copies the regular files of dir into a new directory, as they are now.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
