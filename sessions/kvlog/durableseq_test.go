package kvlog

import (
	"fmt"
	"testing"
)

// LastSeq bounds every accepted record's position; DurableSeq reaches it once a Commit
// covering the record completes, never goes back, and starts at the loaded maximum on Open.
func TestDurableSeq(t *testing.T) {
	for _, f := range []Fsync{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(f.String(), func(t *testing.T) {
			dir := t.TempDir()
			l, _ := openT(t, dir, Options{Fsync: f})
			var last, prev uint64
			for i := range 50 {
				if err := l.Put([]byte(fmt.Sprint("k", i)), []byte("v")); err != nil {
					t.Fatal(err)
				}
				last = l.LastSeq()
				if last <= prev {
					t.Fatalf("LastSeq went from %d to %d", prev, last)
				}
				prev = last
				if i%10 == 9 {
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
					if d := l.DurableSeq(); d < last {
						t.Fatalf("after Sync, DurableSeq %d < LastSeq %d", d, last)
					}
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, _ := openT(t, dir, Options{Fsync: f})
			defer l2.Close()
			if d := l2.DurableSeq(); d != last || l2.LastSeq() != last {
				t.Fatalf("after reopen DurableSeq %d LastSeq %d, want %d", d, l2.LastSeq(), last)
			}
		})
	}
}
