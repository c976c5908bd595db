package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sample is a module whose tests pass, fail, skip, crash and fail to build, in every way
// testsum must report.
var sample = map[string]string{
	"go.mod": "module sample\n\ngo 1.26\n",
	"good/good_test.go": `package good

import "testing"

func TestPass(t *testing.T) { t.Log("passing noise") }

func TestSkipPlain(t *testing.T) { t.Log("context"); t.Skip("needs a thing") }

func TestSkipSub(t *testing.T) {
	t.Run("inner", func(t *testing.T) { t.Parallel(); t.Skipf("reason %d\nsecond line", 2) })
}

func TestSkipNow(t *testing.T) { t.SkipNow() }
`,
	"bad/bad_test.go": `package bad

import "testing"

func TestFails(t *testing.T) {
	t.Log("first detail")
	t.Errorf("want 1, got 2")
}

func TestSubFails(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("broken", func(t *testing.T) { t.Fatal("sub broke") })
}

func TestPasses(t *testing.T) {}
`,
	"crash/crash_test.go": `package crash

import "testing"

func TestFirst(t *testing.T) {}

func TestPanics(t *testing.T) { panic("boom in crash") }
`,
	"nobuild/nobuild_test.go": `package nobuild

import "testing"

func TestNever(t *testing.T) { undefinedThing() }
`,
	"initpanic/init_test.go": `package initpanic

import "testing"

func init() { panic("boom in init") }

func TestNeverRuns(t *testing.T) {}
`,
	"empty/empty.go": "package empty\n",
}

func runSample(t *testing.T) (out string, ok bool, raw []byte) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range sample {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	raw, err := cmd.Output()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("go test: %v", err)
	}
	if err == nil {
		t.Fatal("go test of the sample module succeeded; it has failing tests")
	}
	var b bytes.Buffer
	s := newSummary(&b)
	if err := s.read(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	ok = s.report()
	return b.String(), ok, raw
}

func TestSummary(t *testing.T) {
	out, ok, raw := runSample(t)
	t.Logf("testsum output:\n%s", out)
	if ok {
		t.Error("report says all passed")
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// passed: good.TestPass, good.TestSkipSub, bad.TestSubFails/ok, bad.TestPasses, crash.TestFirst
	// failed: bad.TestFails, bad.TestSubFails/broken, bad.TestSubFails, crash.TestPanics,
	//         nobuild (build), initpanic (outside any test)
	// skipped: TestSkipPlain, TestSkipSub/inner, TestSkipNow
	if last := lines[len(lines)-1]; last != "5 passed, 6 failed, 3 skipped" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{
		"SKIP sample/good TestSkipPlain: good_test.go:7: needs a thing\n",
		"SKIP sample/good TestSkipSub/inner: good_test.go:10: reason 2 second line\n",
		"SKIP sample/good TestSkipNow: (no reason given)\n",
		"--- FAIL: sample/bad TestFails",
		"bad_test.go:6: first detail",
		"bad_test.go:7: want 1, got 2",
		"--- FAIL: sample/bad TestSubFails/broken",
		"bad_test.go:12: sub broke",
		"--- FAIL: sample/crash TestPanics",
		"boom in crash",
		"undefinedThing",
		"FAIL sample/bad TestFails\n",
		"FAIL sample/crash TestPanics\n",
		"FAIL sample/nobuild",
		"boom in init",
		"FAIL sample/initpanic [package failed]\n",
		"ok   sample/good ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, unwanted := range []string{"passing noise", "sample/empty", "context"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q", unwanted)
		}
	}
	if !bytes.Contains(raw, []byte(`"Action":"start"`)) {
		t.Error("go test -json stream not captured")
	}
}

func TestSummaryAllPass(t *testing.T) {
	stream := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.004s\n"}
{"Action":"pass","Package":"p","Elapsed":0.004}
`
	var b bytes.Buffer
	s := newSummary(&b)
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if !s.report() {
		t.Fatalf("a passing stream reported as failed:\n%s", b.String())
	}
	if want := "ok   p 0.00s (1 tests)\n\n1 passed, 0 failed, 0 skipped\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// A stream cut short (go test killed mid-run) leaves a test without an end: it failed.
func TestSummaryTruncated(t *testing.T) {
	stream := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestHangs"}
{"Action":"output","Package":"p","Test":"TestHangs","Output":"=== RUN   TestHangs\n"}
{"Action":"output","Package":"p","Test":"TestHangs","Output":"    x_test.go:3: waiting\n"}
`
	var b bytes.Buffer
	s := newSummary(&b)
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if s.report() {
		t.Fatalf("a truncated stream reported as passed:\n%s", b.String())
	}
	out := b.String()
	for _, want := range []string{"--- FAIL: p TestHangs (did not finish)", "x_test.go:3: waiting", "0 passed, 1 failed, 0 skipped\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
