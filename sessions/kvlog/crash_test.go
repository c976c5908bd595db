package kvlog

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash helper is this test binary re-executed with KVLOG_CRASH_DIR set: it writes a
// deterministic sequence of operations with FsyncAlways and prints "C <i>" once operation i
// is committed. The parent kills it with SIGKILL (or it kills itself at a compaction step
// named by KVLOG_CRASH_STAGE) and checks what a reopened store holds.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KVLOG_CRASH_DIR"); dir != "" {
		crashHelper(dir)
		return
	}
	os.Exit(m.Run())
}

const (
	crashKeys   = 300
	crashMaxOps = 30000
)

var crashOpts = Options{Fsync: FsyncAlways, SegmentSize: 16 << 10, CompactMinSize: 32 << 10, CompactRatio: 0.25}

// crashOp is operation i of the sequence for seed: a delete when value is "".
func crashOp(seed uint64, i int) (key, value string) {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	key = "key-" + strconv.Itoa(r.IntN(crashKeys))
	if r.IntN(4) == 0 {
		return key, ""
	}
	return key, fmt.Sprintf("%d/%d/%s", seed, i, strings.Repeat("v", r.IntN(500)))
}

func crashHelper(dir string) {
	seed, _ := strconv.ParseUint(os.Getenv("KVLOG_CRASH_SEED"), 10, 64)
	stage := os.Getenv("KVLOG_CRASH_STAGE")
	nth, _ := strconv.Atoi(os.Getenv("KVLOG_CRASH_NTH"))
	opts := crashOpts
	seen := 0
	opts.testHook = func(s string) {
		if s == stage {
			if seen++; seen >= nth {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	l, _, err := Open(dir, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	out := os.Stdout
	for i := 0; i < crashMaxOps; i++ {
		k, v := crashOp(seed, i)
		for {
			if v == "" {
				err = l.Delete([]byte(k))
			} else {
				err = l.Put([]byte(k), []byte(v))
			}
			if !errors.Is(err, ErrBusy) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			os.Exit(2)
		}
		l.Commit(func(err error) {
			if err == nil {
				fmt.Fprintf(out, "C %d\n", i)
			}
		})
		if i%200 == 199 {
			time.Sleep(time.Millisecond) // let group commits of varied sizes form
		}
	}
	l.Close()
	fmt.Fprintln(out, "DONE")
	os.Exit(0)
}

// runCrashHelper runs one helper life and returns the last committed op index (-1 if none).
func runCrashHelper(t *testing.T, dir string, seed uint64, killAfter time.Duration, stage string, nth int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KVLOG_CRASH_DIR="+dir, "KVLOG_CRASH_SEED="+strconv.FormatUint(seed, 10),
		"KVLOG_CRASH_STAGE="+stage, "KVLOG_CRASH_NTH="+strconv.Itoa(nth))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var timer *time.Timer
	if killAfter > 0 {
		timer = time.AfterFunc(killAfter, func() { cmd.Process.Kill() })
	}
	last := -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "C "); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i <= last {
				t.Fatalf("helper reported %q after %d", line, last)
			}
			last = i
		}
	}
	err = cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled()) {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("helper seed %d: %d committed, %d compactions, exit %v", seed, last+1, strings.Count(stderr.String(), "compacted"), err)
	}
	return last
}

// checkCrash reopens dir and checks that it holds the state after some prefix of the
// helper's operations at least as long as the committed one: nothing committed is lost,
// nothing deleted comes back, nothing is invented. It returns the recovered state.
func checkCrash(t *testing.T, dir string, base map[string]string, seed uint64, committed int) map[string]string {
	t.Helper()
	l, rec := openT(t, dir, crashOpts)
	got := replayMap(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range rec.Damaged {
		t.Logf("seed %d: recovery: %s", seed, d)
	}
	if len(rec.ObsoleteFiles)+len(rec.PartialCompaction)+len(rec.TempFiles) > 0 && testing.Verbose() {
		t.Logf("seed %d: recovery: obsolete %v, partial %v, temp %v", seed, rec.ObsoleteFiles, rec.PartialCompaction, rec.TempFiles)
	}
	model := make(map[string]string, len(base))
	for k, v := range base {
		model[k] = v
	}
	// mismatches counts keys where model and got differ.
	mismatches := 0
	for k := 0; k < crashKeys; k++ {
		key := "key-" + strconv.Itoa(k)
		gv, gok := got[key]
		mv, mok := model[key]
		if gok != mok || gv != mv {
			mismatches++
		}
	}
	if len(got) > crashKeys {
		t.Fatalf("recovered %d keys, only %d exist", len(got), crashKeys)
	}
	differs := func(key string) bool {
		gv, gok := got[key]
		mv, mok := model[key]
		return gok != mok || gv != mv
	}
	for i := 0; i < crashMaxOps; i++ {
		if i > committed && mismatches == 0 {
			return got
		}
		k, v := crashOp(seed, i)
		before := differs(k)
		if v == "" {
			delete(model, k)
		} else {
			model[k] = v
		}
		if after := differs(k); before != after {
			if after {
				mismatches++
			} else {
				mismatches--
			}
		}
	}
	if mismatches == 0 {
		return got
	}
	t.Fatalf("seed %d: recovered state (%d keys) is not the state after any prefix of at least %d ops (%d mismatches at the end)",
		seed, len(got), committed+1, mismatches)
	return nil
}

func TestCrashRandomKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for s := 0; s < 4; s++ {
		dir := t.TempDir()
		state := map[string]string{}
		for cycle := 0; cycle < 4; cycle++ {
			seed := rng.Uint64() % 1e9
			kill := time.Duration(30+rng.IntN(400)) * time.Millisecond
			committed := runCrashHelper(t, dir, seed, kill, "", 0)
			state = checkCrash(t, dir, state, seed, committed)
		}
	}
}

func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	stages := []string{"copied", "synced", "renamed-first", "committed", "switched", "removed-first"}
	kinds := map[string]bool{}
	for i, stage := range stages {
		dir := t.TempDir()
		state := map[string]string{}
		for cycle := 0; cycle < 2; cycle++ {
			seed := uint64(1000*i + cycle)
			committed := runCrashHelper(t, dir, seed, 0, stage, 2+cycle)
			// Look at the directory as the crash left it before Open repairs it.
			rep, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.TempFiles) > 0 {
				kinds["temp"] = true
			}
			if len(rep.PartialCompaction) > 0 {
				kinds["partial"] = true
			}
			if len(rep.ObsoleteFiles) > 0 {
				kinds["obsolete"] = true
			}
			state = checkCrash(t, dir, state, seed, committed)
		}
	}
	for _, k := range []string{"temp", "obsolete"} {
		if !kinds[k] {
			t.Errorf("no crash left %s files: the stages did not hit compaction", k)
		}
	}
	t.Logf("leftover kinds seen: %v", kinds)
}
