// Command testsum reads `go test -json` on standard input and prints what CI must not hide:
//
//   - every failing test with its full output, as soon as it fails (and a package that failed
//     outside any test, or failed to build, with all of its output);
//   - "ok <package> <time> (<n> tests)" for each package that ran tests, as progress;
//   - at the end one line per skipped test with its reason ("SKIP <package> <test>: <reason>"),
//     the list of failures, and "N passed, M failed, K skipped" alone on the last line.
//
// It exits 1 when anything failed. Lines that are not JSON (say, from a go command that did not
// get as far as testing) are printed unchanged. With -json FILE the stream read is also written
// to FILE, unchanged, for tools and for a second look. Use it with `set -o pipefail`:
//
//	go test -json ./... | go run ./tools/testsum -json bin/test.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run())
}

func run() int {
	rawPath := flag.String("json", "", "also write the go test -json stream to this `file`")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | testsum [-json file]")
		return 2
	}
	var in io.Reader = os.Stdin
	if *rawPath != "" {
		f, err := os.Create(*rawPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			return 2
		}
		defer f.Close()
		in = io.TeeReader(os.Stdin, f)
	}
	s := newSummary(os.Stdout)
	err := s.read(in)
	ok := s.report()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		ok = false
	}
	if !ok {
		return 1
	}
	return 0
}
