package engine

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fdSize reads the size of the process's descriptor table (FDSize in /proc/self/status).
func fdSize(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/self/status")
	return 0
}

// TestPresizeFDTable runs the check in a fresh process (a node started by an earlier test of
// this package has already sized the table of this one).
func TestPresizeFDTable(t *testing.T) {
	if os.Getenv("EMQGO_FDTABLE_CHILD") == "1" {
		checkPresizeFDTable(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPresizeFDTable$", "-test.v")
	cmd.Env = append(os.Environ(), "EMQGO_FDTABLE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

func checkPresizeFDTable(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := 1 << 14
	if lim.Cur < uint64(want) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RLIMIT_NOFILE %d is below the %d descriptors the test sizes the table for", lim.Cur, want)
		}
		t.Skipf("RLIMIT_NOFILE %d is below the %d descriptors the test sizes the table for", lim.Cur, want)
	}
	before := fdSize(t)
	if before >= want {
		t.Fatalf("a fresh process's table already holds %d descriptors: the test would prove nothing", before)
	}
	f, err := os.Open("/dev/null") // open before: still open after
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := presizeFDTable(want)
	if err != nil || got != want {
		t.Fatalf("presizeFDTable(%d) = %d, %v", want, got, err)
	}
	if size := fdSize(t); size < want {
		t.Fatalf("FDSize %d after sizing the table for %d descriptors (%d before)", size, want, before)
	}
	t.Logf("FDSize %d before, %d after", before, fdSize(t))
	if _, err := f.Stat(); err != nil {
		t.Fatalf("a descriptor open before was touched: %v", err)
	}
	// Nothing is left open at the top: the next descriptor is a low one.
	g, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Fd() >= uintptr(want)/2 {
		t.Fatalf("next descriptor %d: the high duplicate was not closed", g.Fd())
	}
}
