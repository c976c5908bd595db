package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emqgo/emqgo/sessions/kvlog"
)

func TestVerifyCompact(t *testing.T) {
	dir := t.TempDir()
	l, _, err := kvlog.Open(dir, kvlog.Options{SegmentSize: 4096, CompactRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		l.Put(fmt.Appendf(nil, "k%d", i%100), make([]byte, 50))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"verify", dir}); code != 0 {
		t.Fatalf("verify of a clean store: exit %d", code)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("garbage"))
	f.Close()
	if code := run([]string{"verify", dir}); code != 1 {
		t.Fatalf("verify of a damaged store: exit %d", code)
	}
	if code := run([]string{"compact", dir}); code != 0 {
		t.Fatalf("compact: exit %d", code)
	}
	rep, err := kvlog.Verify(dir)
	if err != nil || !rep.Clean() || rep.LiveKeys != 100 || rep.DeadRecords != 0 || rep.Segments != 1 {
		t.Fatalf("after compact: %v\n%s", err, rep.String())
	}
	if code := run([]string{"bogus", dir}); code != 2 {
		t.Fatalf("bad command: exit %d", code)
	}
}
