package engine

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// With the store's disk full, a QoS 1 publish that a durable session subscribes to is refused
// (MQTT 5: PUBACK 0x97 with a reason string; 3.1.1: the connection is closed), publishes that
// need no durability still go through, and when space returns the broker accepts again.
func TestDiskFullRefusesUndurablePublishes(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	st, _, err := sessions.OpenStore(filepath.Join(mnt, "store"), kvlog.Options{Fsync: kvlog.FsyncAlways,
		SegmentSize: 64 << 10, RetryInterval: 20 * time.Millisecond, CompactRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	n, addr := testNode(t, func(c *Config) { c.Store = st })

	// A durable subscriber, offline, and a plain one, online.
	d, _ := connectRaw(t, addr, codec.V5, "durable", func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(600) })
	d.subscribe(1, 0, sub("keep/#", 1))
	d.disconnect(0, nil)
	plain, _ := connectRaw(t, addr, codec.V311, "plain", nil)
	plain.subscribe(1, 0, sub("live/#", 1))

	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 700<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := connectRaw(t, addr, codec.V5, "pub", nil)
	payload := make([]byte, 20<<10)
	refused := false
	for i := 1; i <= 60 && !refused; i++ {
		p.publish(&codec.Publish{Topic: []byte("keep/x"), QoS: 1, PacketID: uint16(i), Payload: payload})
		a := p.recvAck(codec.TypePuback)
		switch a.Code {
		case codec.Success:
		case codec.QuotaExceeded:
			if !strings.Contains(string(a.Props.ReasonString), "store unavailable") {
				t.Fatalf("0x97 without the reason string: %q", a.Props.ReasonString)
			}
			refused = true
		default:
			t.Fatalf("PUBACK %v", a.Code)
		}
	}
	if !refused {
		t.Fatal("the disk filled up but no publish was refused")
	}
	// Still refused while full; a publish no durable session needs goes through.
	p.publish(&codec.Publish{Topic: []byte("keep/y"), QoS: 1, PacketID: 100, Payload: []byte("x")})
	if a := p.recvAck(codec.TypePuback); a.Code != codec.QuotaExceeded {
		t.Fatalf("second publish while full: %v", a.Code)
	}
	p.publish(&codec.Publish{Topic: []byte("live/y"), QoS: 1, PacketID: 101, Payload: []byte("x")})
	if a := p.recvAck(codec.TypePuback); a.Code != codec.Success {
		t.Fatalf("publish needing no durability: %v", a.Code)
	}
	if m := plain.recvPublish(); string(m.Topic) != "live/y" {
		t.Fatal(m)
	}
	// MQTT 3.1.1 has no code for it: the publisher is disconnected and keeps its message.
	p3, _ := connectRaw(t, addr, codec.V311, "pub3", nil)
	p3.publish(&codec.Publish{Topic: []byte("keep/z"), QoS: 1, PacketID: 1, Payload: []byte("x")})
	if pkts := p3.closed(); len(pkts) != 0 {
		t.Fatalf("3.1.1 publisher got % x, want a close", pkts)
	}
	for wait := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) { // counters lag by a sweep
		var count uint64
		for _, m := range n.Metrics() {
			if m.Name == "messages.refused.store_unavailable" {
				count = m.Value
			}
		}
		if count >= 3 {
			var failed uint64
			for _, m := range n.Metrics() {
				if m.Name == "store.commits_failed" || m.Name == "store.writes_refused" {
					failed += m.Value
				}
			}
			if failed == 0 {
				t.Fatal("store.commits_failed and store.writes_refused are both 0 after the disk filled")
			}
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("messages.refused.store_unavailable = %d, want >= 3", count)
		}
	}

	// Space returns: the store recovers by itself and publishes are accepted again.
	os.Remove(filler)
	deadline := time.Now().Add(10 * time.Second)
	for id := uint16(200); ; id++ {
		p.publish(&codec.Publish{Topic: []byte("keep/again"), QoS: 1, PacketID: id, Payload: []byte("ok")})
		if a := p.recvAck(codec.TypePuback); a.Code == codec.Success {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publishes still refused 10s after space returned")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountTmpfs mounts a tmpfs of the given size ("1m") on a fresh temporary directory, unmounted
// when the test ends: a real filesystem that fills up. Mounting needs root, which `make test`
// has in CI: as root a failed mount fails the test; as another user the test is skipped and
// says it needs root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("needs root to mount a %s tmpfs (CI runs make test as root): %v", size, err)
		}
		t.Fatalf("cannot mount a %s tmpfs as root: %v", size, err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	return mnt
}
