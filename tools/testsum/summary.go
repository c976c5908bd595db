package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json`: a test2json TestEvent, or a build event
// (Action "build-output" / "build-fail", keyed by ImportPath) that go test interleaves with them.
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string
}

// testKey names one test (or subtest) of one package.
type testKey struct{ pkg, test string }

// summary accumulates a `go test -json` stream. Output of a running test is held until the
// test ends: dropped when it passes, printed in full when it fails, reduced to its reason when
// it skips. Not safe for concurrent use.
type summary struct {
	out io.Writer

	running  map[testKey]*strings.Builder // output of tests that have not ended yet
	pkgOut   map[string]*strings.Builder  // package-level output (Test == "") of packages not ended yet
	pkgTests map[string]int               // tests that ended, per package not ended yet

	passed, failed, skipped int
	skips                   []string // "pkg TestName: reason"
	failures                []string // "pkg TestName" or "pkg [reason]"
}

func newSummary(out io.Writer) *summary {
	return &summary{
		out:      out,
		running:  make(map[testKey]*strings.Builder),
		pkgOut:   make(map[string]*strings.Builder),
		pkgTests: make(map[string]int),
	}
}

// read consumes the stream until EOF. Lines that are not JSON events are printed as they are.
func (s *summary) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.handle(&e)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the go test -json stream: %w", err)
	}
	s.flushUnended()
	return nil
}

func (s *summary) handle(e *event) {
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
		return
	case "build-fail":
		s.failed++
		s.failures = append(s.failures, e.ImportPath+" [build failed]")
		return
	}
	if e.Test == "" {
		s.handlePackage(e)
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "run":
		s.running[k] = new(strings.Builder)
	case "output":
		b := s.running[k]
		if b == nil { // output after the end line of a test: keep it with its package
			b = s.pkgBuf(e.Package)
		}
		b.WriteString(e.Output)
	case "pass":
		s.passed++
		s.ended(k)
	case "skip":
		s.skipped++
		s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(s.text(k))))
		s.ended(k)
	case "fail":
		s.failed++
		s.failures = append(s.failures, e.Package+" "+e.Test)
		fmt.Fprintf(s.out, "--- FAIL: %s %s (%.2fs)\n", e.Package, e.Test, e.Elapsed)
		s.printIndented(s.text(k))
		s.ended(k)
	}
}

// handlePackage handles the events of a package as a whole: its output (TestMain, a panic, a
// timeout, the final ok/FAIL line) and its end.
func (s *summary) handlePackage(e *event) {
	switch e.Action {
	case "output":
		s.pkgBuf(e.Package).WriteString(e.Output)
	case "pass":
		if n := s.pkgTests[e.Package]; n > 0 {
			fmt.Fprintf(s.out, "ok   %s %.2fs (%d tests)\n", e.Package, e.Elapsed, n)
		}
		s.endPackage(e.Package)
	case "skip": // no test files
		s.endPackage(e.Package)
	case "fail":
		// Tests still running when the package failed (a panic, a timeout, os.Exit) failed with it.
		var unended []testKey
		for k := range s.running {
			if k.pkg == e.Package {
				unended = append(unended, k)
			}
		}
		sort.Slice(unended, func(i, j int) bool { return unended[i].test < unended[j].test })
		for _, k := range unended {
			s.failed++
			s.failures = append(s.failures, k.pkg+" "+k.test+" [did not finish]")
			fmt.Fprintf(s.out, "--- FAIL: %s %s (did not finish)\n", k.pkg, k.test)
			s.printIndented(s.text(k))
			s.ended(k)
		}
		if len(unended) == 0 && !s.anyFailureIn(e.Package) {
			s.failed++
			reason := "[package failed]"
			if e.FailedBuild != "" {
				reason = "[build failed: " + e.FailedBuild + "]"
			}
			s.failures = append(s.failures, e.Package+" "+reason)
		}
		fmt.Fprintf(s.out, "FAIL %s %.2fs\n", e.Package, e.Elapsed)
		s.printIndented(packageOutput(e.Package, s.pkgBuf(e.Package).String()))
		s.endPackage(e.Package)
	}
}

// flushUnended reports what a truncated stream left running (go test killed, for instance):
// those tests did not pass, so they count as failed.
func (s *summary) flushUnended() {
	pkgs := make(map[string]bool)
	for k := range s.running {
		pkgs[k.pkg] = true
	}
	for p := range s.pkgOut {
		pkgs[p] = true
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		s.handlePackage(&event{Action: "fail", Package: p})
	}
}

func (s *summary) anyFailureIn(pkg string) bool {
	for _, f := range s.failures {
		if strings.HasPrefix(f, pkg+" ") {
			return true
		}
	}
	return false
}

func (s *summary) pkgBuf(pkg string) *strings.Builder {
	b := s.pkgOut[pkg]
	if b == nil {
		b = new(strings.Builder)
		s.pkgOut[pkg] = b
	}
	return b
}

func (s *summary) text(k testKey) string {
	if b := s.running[k]; b != nil {
		return b.String()
	}
	return ""
}

func (s *summary) ended(k testKey) {
	delete(s.running, k)
	s.pkgTests[k.pkg]++
}

func (s *summary) endPackage(pkg string) {
	delete(s.pkgOut, pkg)
	delete(s.pkgTests, pkg)
}

// packageOutput drops go test's own verdict lines (PASS, FAIL, "FAIL\tpkg\t0.1s") from a
// package's output: what remains is what the package printed (a panic, a timeout, TestMain).
func packageOutput(pkg, text string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line == "PASS" || line == "FAIL" || strings.HasPrefix(line, "FAIL\t"+pkg) || strings.HasPrefix(line, "ok  \t"+pkg) {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// printIndented prints output verbatim, each line indented so that it reads as part of the
// FAIL line above it.
func (s *summary) printIndented(text string) {
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(s.out, "    %s\n", line)
	}
}

// skipReason reduces a skipped test's output to its reason: the last message it logged (the
// t.Skip one; earlier t.Log lines are context), continuation lines joined onto it.
func skipReason(text string) string {
	var last []string
	for line := range strings.SplitSeq(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- "):
		case logLine.MatchString(line):
			last = append(last[:0], t)
		default:
			last = append(last, t)
		}
	}
	if len(last) == 0 {
		return "(no reason given)"
	}
	return strings.Join(last, " ")
}

// logLine matches the first line of a message logged by t.Log, t.Skip and the like.
var logLine = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: `)

// report prints the skips, the failures and the count line, and says whether all passed.
func (s *summary) report() bool {
	if len(s.skips) > 0 {
		fmt.Fprintf(s.out, "\nskipped tests:\n")
		for _, l := range s.skips {
			fmt.Fprintf(s.out, "SKIP %s\n", l)
		}
	}
	if len(s.failures) > 0 {
		fmt.Fprintf(s.out, "\nfailed:\n")
		for _, l := range s.failures {
			fmt.Fprintf(s.out, "FAIL %s\n", l)
		}
	}
	fmt.Fprintf(s.out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s.failed == 0
}
