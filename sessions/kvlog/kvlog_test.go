package kvlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

func openT(t *testing.T, dir string, opts Options) (*Log, Recovery) {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) {
			if testing.Verbose() {
				t.Logf(format, args...)
			}
		}
	}
	l, rec, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rec
}

func replayMap(t *testing.T, l *Log) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := l.Replay(func(k, v []byte) error {
		if _, dup := m[string(k)]; dup {
			return fmt.Errorf("key %q replayed twice", k)
		}
		m[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return m
}

func syncT(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func sameMap(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d", len(got), len(want))
	}
	n := 0
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			if n++; n <= 5 {
				t.Errorf("key %q: got %.20q (present %v), want %.20q", k, g, ok, v)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 5 {
				t.Errorf("key %q present, want absent", k)
			}
		}
	}
}

func TestPutDeleteReopen(t *testing.T) {
	dir := t.TempDir()
	l, rec := openT(t, dir, Options{Fsync: FsyncAlways})
	if !rec.Clean() || rec.LiveKeys != 0 {
		t.Fatalf("fresh store: %+v", rec)
	}
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"a", "4"}} {
		if err := l.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := l.Put([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	syncT(t, l)
	want := map[string]string{"a": "4", "c": "3", "empty": ""}
	sameMap(t, replayMap(t, l), want)
	if v, ok, err := l.Get([]byte("a")); err != nil || !ok || string(v) != "4" {
		t.Fatalf("Get(a) = %q %v %v", v, ok, err)
	}
	if _, ok, _ := l.Get([]byte("b")); ok {
		t.Fatal("Get(b) found a deleted key")
	}
	st := l.Stats()
	if st.LiveKeys != 3 || st.Failed || st.PendingBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := l.Put([]byte("x"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	l, rec = openT(t, dir, Options{})
	defer l.Close()
	if !rec.Clean() || rec.LiveKeys != 3 || rec.Records != 6 {
		t.Fatalf("recovery %+v", rec)
	}
	sameMap(t, replayMap(t, l), want)
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l, _ := openT(t, dir, Options{})
	defer l.Close()
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(p, Options{}); err == nil {
		t.Fatal("Open on a file succeeded")
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o500)
		if _, _, err := Open(ro, Options{}); err == nil {
			t.Fatal("Open on a read-only directory succeeded")
		}
	}
}

func TestTooLargeAndBusy(t *testing.T) {
	l, _ := openT(t, t.TempDir(), Options{MaxPending: 1 << 16})
	defer l.Close()
	if err := l.Put(make([]byte, MaxKeySize+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge key: %v", err)
	}
	if err := l.Put([]byte("k"), make([]byte, 1<<17)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("value over MaxPending: %v", err)
	}
	// Hold the writer (Replay blocks index updates) and fill the pending budget.
	l.Put([]byte("k"), []byte("v"))
	syncT(t, l)
	busy := false
	l.Replay(func(k, v []byte) error {
		for i := 0; i < 1000 && !busy; i++ {
			err := l.Put([]byte("k"), make([]byte, 1024))
			if errors.Is(err, ErrBusy) {
				busy = true
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if !busy {
		t.Fatal("no ErrBusy past MaxPending")
	}
	syncT(t, l)
}

// TestModel runs random operations against a map with reopen cycles, small segments and
// aggressive compaction, and checks Replay against the map after each cycle.
func TestModel(t *testing.T) {
	for _, policy := range []Fsync{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(policy)+1, 7))
			dir := t.TempDir()
			opts := Options{Fsync: policy, SegmentSize: 8 << 10, CompactMinSize: 16 << 10, CompactRatio: 0.3}
			model := make(map[string]string)
			for cycle := 0; cycle < 6; cycle++ {
				l, rec := openT(t, dir, opts)
				if !rec.Clean() {
					t.Fatalf("cycle %d: damage after a clean close: %+v", cycle, rec.Damaged)
				}
				if rec.LiveKeys != len(model) {
					t.Fatalf("cycle %d: recovery has %d keys, model %d", cycle, rec.LiveKeys, len(model))
				}
				sameMap(t, replayMap(t, l), model)
				for i := 0; i < 1500; i++ {
					k := fmt.Sprintf("key-%03d", rng.IntN(150))
					switch r := rng.IntN(100); {
					case r < 65:
						v := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(300)) + fmt.Sprint(cycle, i)
						if err := l.Put([]byte(k), []byte(v)); err != nil {
							t.Fatal(err)
						}
						model[k] = v
					case r < 90:
						if err := l.Delete([]byte(k)); err != nil {
							t.Fatal(err)
						}
						delete(model, k)
					case r < 98:
						syncT(t, l)
					case r < 99:
						if err := l.Compact(); err != nil {
							t.Fatal(err)
						}
					default:
						syncT(t, l)
						sameMap(t, replayMap(t, l), model)
					}
				}
				syncT(t, l)
				sameMap(t, replayMap(t, l), model)
				st := l.Stats()
				if st.LiveKeys != len(model) {
					t.Fatalf("stats: %d live keys, model %d", st.LiveKeys, len(model))
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				rep, err := Verify(dir)
				if err != nil || !rep.Clean() || rep.LiveKeys != len(model) {
					t.Fatalf("Verify: %v %+v", err, rep)
				}
			}
			l, _ := openT(t, dir, opts)
			defer l.Close()
			if l.Stats().Compactions == 0 && policy == FsyncAlways {
				t.Log("no compaction after reopen (fine)")
			}
			sameMap(t, replayMap(t, l), model)
		})
	}
}

// TestConcurrent has many goroutines putting and committing; the final state is checked.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Fsync: FsyncAlways, SegmentSize: 32 << 10, CompactMinSize: 64 << 10}
	l, _ := openT(t, dir, opts)
	var wg sync.WaitGroup
	const writers, perWriter = 8, 300
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cw sync.WaitGroup
			for i := 0; i < perWriter; i++ {
				k := fmt.Appendf(nil, "w%d-k%d", w, i%50)
				if err := l.Put(k, fmt.Appendf(nil, "v%d", i)); err != nil {
					t.Error(err)
					return
				}
				cw.Add(1)
				l.Commit(func(err error) {
					if err != nil {
						t.Error(err)
					}
					cw.Done()
				})
			}
			cw.Wait()
		}()
	}
	wg.Wait()
	want := make(map[string]string)
	for w := 0; w < writers; w++ {
		for i := perWriter - 50; i < perWriter; i++ {
			want[fmt.Sprintf("w%d-k%d", w, i%50)] = fmt.Sprintf("v%d", i)
		}
	}
	sameMap(t, replayMap(t, l), want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = openT(t, dir, opts)
	defer l.Close()
	sameMap(t, replayMap(t, l), want)
}

// TestReplayOrder checks that Replay reports keys in log order.
func TestReplayOrder(t *testing.T) {
	l, _ := openT(t, t.TempDir(), Options{SegmentSize: 4096})
	defer l.Close()
	var want []string
	for i := 0; i < 500; i++ {
		k := fmt.Sprintf("k%04d", (i*7919)%500)
		l.Put([]byte(k), bytes.Repeat([]byte{'x'}, 40))
		want = append(want, k)
	}
	syncT(t, l)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	var got []string
	l.Replay(func(k, v []byte) error { got = append(got, string(k)); return nil })
	if !sort.SliceIsSorted(want, func(i, j int) bool { return false }) || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("replay order differs from write order")
	}
}

// TestLargeValues crosses the scanner's buffer size (values read outside bufio).
func TestLargeValues(t *testing.T) {
	dir := t.TempDir()
	l, _ := openT(t, dir, Options{SegmentSize: 1 << 20, MaxPending: 8 << 20})
	want := map[string]string{}
	for i := 0; i < 6; i++ {
		v := strings.Repeat(string(rune('a'+i)), (i+1)*300<<10)
		k := fmt.Sprintf("big%d", i%4)
		if err := l.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
		syncT(t, l)
	}
	sameMap(t, replayMap(t, l), want)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	sameMap(t, replayMap(t, l), want)
	l.Close()
	l, rec := openT(t, dir, Options{})
	defer l.Close()
	if !rec.Clean() || rec.DeadRecords != 0 {
		t.Fatalf("recovery %+v", rec)
	}
	sameMap(t, replayMap(t, l), want)
}

// TestCompactWhileWriting runs forced compactions and Replay against concurrent writers.
func TestCompactWhileWriting(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Fsync: FsyncNever, SegmentSize: 8 << 10, CompactMinSize: 16 << 10, CompactRatio: 0.2}
	l, _ := openT(t, dir, opts)
	var wg sync.WaitGroup
	final := make([]map[string]string, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := map[string]string{}
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := 0; i < 3000; i++ {
				k := fmt.Sprintf("w%d/%d", w, rng.IntN(100))
				if rng.IntN(5) == 0 {
					l.Delete([]byte(k))
					delete(m, k)
				} else {
					v := fmt.Sprintf("%d-%s", i, strings.Repeat("x", rng.IntN(100)))
					for errors.Is(l.Put([]byte(k), []byte(v)), ErrBusy) {
					}
					m[k] = v
				}
			}
			final[w] = m
		}()
	}
	stop := make(chan struct{})
	var cwg sync.WaitGroup
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Compact(); err != nil {
				t.Error(err)
				return
			}
			l.Replay(func(k, v []byte) error { return nil })
		}
	}()
	wg.Wait()
	close(stop)
	cwg.Wait()
	syncT(t, l)
	want := map[string]string{}
	for _, m := range final {
		for k, v := range m {
			want[k] = v
		}
	}
	sameMap(t, replayMap(t, l), want)
	l.Close()
	l, _ = openT(t, dir, opts)
	defer l.Close()
	sameMap(t, replayMap(t, l), want)
}
