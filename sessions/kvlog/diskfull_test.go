package kvlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultFS fails writes, fsyncs and file creation with ENOSPC while full is set. A failing
// write first writes half of its bytes, as a real short write would.
type faultFS struct {
	osFS
	full atomic.Bool
}

type faultFile struct {
	file
	fs *faultFS
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if flag&os.O_CREATE != 0 && f.full.Load() {
		if _, err := os.Stat(name); os.IsNotExist(err) {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
		}
	}
	fl, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: fl, fs: f}, nil
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.fs.full.Load() {
		n, _ := f.file.WriteAt(b[:len(b)/2], off)
		return n, syscall.ENOSPC
	}
	return f.file.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if f.fs.full.Load() {
		return syscall.ENOSPC
	}
	return f.file.Sync()
}

type stateEvent struct {
	failed bool
	err    error
}

func waitState(t *testing.T, ch <-chan stateEvent, failed bool) stateEvent {
	t.Helper()
	select {
	case ev := <-ch:
		if ev.failed != failed {
			t.Fatalf("OnState(%v, %v), want failed=%v", ev.failed, ev.err, failed)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no OnState(%v)", failed)
	}
	return stateEvent{}
}

func commitErr(l *Log) error { return l.Sync() }

// commitAfterRecovery commits what was put since the store recovered. When the writer took a
// Put before the Commit that followed it reached the log, the failure dropped that record
// uncovered, and the drop is reported to the next Commit (Failure, in the package doc): here,
// the first after recovery, once, wrapping the original ENOSPC. The Commit after it is clean.
func commitAfterRecovery(t *testing.T, l *Log) {
	t.Helper()
	err := commitErr(l)
	if err == nil {
		return
	}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Commit after recovery: %v", err)
	}
	if err := commitErr(l); err != nil {
		t.Fatalf("second Commit after recovery: %v", err)
	}
}

func TestDiskFull(t *testing.T) {
	for _, policy := range []Fsync{FsyncAlways, FsyncInterval} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			ffs := &faultFS{}
			states := make(chan stateEvent, 10)
			opts := Options{Fsync: policy, SegmentSize: 4096, RetryInterval: 10 * time.Millisecond, fs: ffs,
				OnState: func(failed bool, err error) { states <- stateEvent{failed, err} }}
			l, _ := openT(t, dir, opts)
			want := map[string]string{}
			for i := 0; i < 100; i++ {
				k, v := fmt.Sprintf("a%03d", i), fmt.Sprintf("value %d", i)
				l.Put([]byte(k), []byte(v))
				want[k] = v
			}
			if err := commitErr(l); err != nil {
				t.Fatal(err)
			}

			ffs.full.Store(true)
			if err := l.Put([]byte("x"), []byte("not durable")); err != nil {
				t.Fatal("Put before the failure is known:", err)
			}
			err := commitErr(l)
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Commit on a full disk: %v", err)
			}
			ev := waitState(t, states, true)
			if !errors.Is(ev.err, syscall.ENOSPC) {
				t.Fatalf("OnState error %v", ev.err)
			}
			if err := l.Put([]byte("y"), nil); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Put while failed: %v", err)
			}
			if !l.Stats().Failed {
				t.Fatal("Stats.Failed is false")
			}
			time.Sleep(50 * time.Millisecond) // a few failed recovery probes

			ffs.full.Store(false)
			waitState(t, states, false)
			for i := 0; i < 100; i++ { // enough to roll segments after the failure
				k, v := fmt.Sprintf("b%03d", i), fmt.Sprintf("value %d", i)
				if err := l.Put([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				want[k] = v
			}
			commitAfterRecovery(t, l)
			sameMap(t, replayMap(t, l), want)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l, rec := openT(t, dir, Options{})
			defer l.Close()
			if !rec.Clean() {
				t.Errorf("damage after recovery from a full disk: %v", rec.Damaged)
			}
			sameMap(t, replayMap(t, l), want)
		})
	}
}

// TestDiskFullUncommittedLoss: records dropped while failed without a Commit of their own
// make the next Commit fail, even after recovery.
func TestDiskFullUncommittedLoss(t *testing.T) {
	ffs := &faultFS{}
	states := make(chan stateEvent, 10)
	l, _ := openT(t, t.TempDir(), Options{Fsync: FsyncAlways, RetryInterval: 10 * time.Millisecond, fs: ffs,
		OnState: func(failed bool, err error) { states <- stateEvent{failed, err} }})
	defer l.Close()
	ffs.full.Store(true)
	if err := l.Put([]byte("z"), []byte("dropped")); err != nil {
		t.Fatal(err)
	}
	waitState(t, states, true)
	ffs.full.Store(false)
	waitState(t, states, false)
	if err := commitErr(l); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Commit after dropped records: %v", err)
	}
	if err := commitErr(l); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	if _, ok, _ := l.Get([]byte("z")); ok {
		t.Fatal("dropped record visible")
	}
}

// TestDiskFullTmpfs fills a real 1 MiB tmpfs (mounting it needs root; TestDiskFull covers the
// same paths by fault injection for everyone).
func TestDiskFullTmpfs(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	dir := filepath.Join(mnt, "store")
	states := make(chan stateEvent, 10)
	l, _ := openT(t, dir, Options{Fsync: FsyncAlways, SegmentSize: 64 << 10, RetryInterval: 10 * time.Millisecond, CompactRatio: -1,
		OnState: func(failed bool, err error) { states <- stateEvent{failed, err} }})
	defer l.Close()
	filler := filepath.Join(mnt, "filler")
	os.WriteFile(filler, make([]byte, 600<<10), 0o644)
	want := map[string]string{}
	value := string(make([]byte, 1000))
	var failErr error
	for i := 0; i < 2000 && failErr == nil; i++ {
		k := fmt.Sprintf("k%04d", i)
		if err := l.Put([]byte(k), []byte(value)); err != nil {
			t.Fatal(err)
		}
		if failErr = commitErr(l); failErr == nil {
			want[k] = value
		}
	}
	if !errors.Is(failErr, syscall.ENOSPC) {
		t.Fatalf("filled the tmpfs without ENOSPC: %v", failErr)
	}
	waitState(t, states, true)
	os.Remove(filler)
	waitState(t, states, false)
	if err := l.Put([]byte("after"), []byte("space returned")); err != nil {
		t.Fatal(err)
	}
	commitAfterRecovery(t, l)
	want["after"] = "space returned"
	l.Close()
	l, rec := openT(t, dir, Options{})
	defer l.Close()
	if !rec.Clean() {
		t.Errorf("damage: %v", rec.Damaged)
	}
	sameMap(t, replayMap(t, l), want)
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
