package engine

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/logging"
)

// TestRefusedFloodWithStuckLog floods the broker with CONNECTs it refuses (each logged at
// info) while the log's destination is a pipe nobody reads. The loops must keep serving: every
// refused client gets its CONNACK, a bystander's publish and subscribe keep working, and the
// lines that did not fit are counted as dropped.
func TestRefusedFloodWithStuckLog(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w := logging.New(pw, logging.Options{MaxLines: 256})
	// Cleanups run last-in first-out: the node stops first, then the pipe is unblocked and the
	// writer drained.
	t.Cleanup(func() {
		pr.Close() // the stuck write fails with EPIPE
		w.Close()
		pw.Close()
	})
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	node, addr := testNodeLog(t, nil, log)
	b := newBystander(t, addr, "by")

	// Protocol level 9 does not exist: CONNACK 0x01 (3.1.1 form) and close.
	bad := connectPacket(codec.V311, "x", nil)
	bad[8] = 9
	const workers, each = 4, 500
	var refused, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if refusedOnce(addr, bad) {
					refused.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	checks := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for flooding := true; flooding; {
		select {
		case <-done:
			flooding = false
		default:
		}
		b.check()
		checks++
	}
	b.check()
	if n := refused.Load(); n != workers*each {
		t.Fatalf("%d of %d bad CONNECTs answered with CONNACK 0x01 and a close (%d not)", n, workers*each, failed.Load())
	}
	if w.Dropped() == 0 {
		t.Fatal("no log line dropped: the log destination was not stuck, the test proves nothing")
	}
	if got := metric(node, "log.dropped"); got < w.Dropped() {
		t.Fatalf("metric log.dropped = %d, the writer dropped %d", got, w.Dropped())
	}
	t.Logf("%d bystander round trips during the flood; %d log lines dropped", checks, w.Dropped())
}

// refusedOnce connects with CONNECT packet pkt and reports whether the broker answered with a
// CONNACK refusing it and closed the connection, within 10s.
func refusedOnce(addr string, pkt []byte) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		return false
	}
	got, err := io.ReadAll(bufio.NewReader(c))
	return err == nil && len(got) == 4 && got[0] == 0x20 && got[3] == 0x01
}
