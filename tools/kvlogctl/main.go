// Command kvlogctl checks and compacts a kvlog store (sessions/kvlog) offline.
//
//	kvlogctl verify DIR    report records, live keys, damage; change nothing (exit 1 on damage)
//	kvlogctl compact DIR   repair as start-up does, rewrite into compacted segments, report
//
// The broker must not have the store open (compact refuses a locked directory).
package main

import (
	"fmt"
	"os"

	"github.com/emqgo/emqgo/sessions/kvlog"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kvlogctl verify|compact DIR")
		return 2
	}
	dir := args[1]
	switch args[0] {
	case "verify":
		rep, err := kvlog.Verify(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kvlogctl:", err)
			return 2
		}
		fmt.Print(rep.String())
		if !rep.Clean() {
			return 1
		}
		return 0
	case "compact":
		rec, rep, err := kvlog.Compact(dir, kvlog.Options{
			Logf: func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) },
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "kvlogctl:", err)
			return 2
		}
		if !rec.Clean() {
			fmt.Println("repaired at open:")
			fmt.Print(rec.Report.String())
		}
		fmt.Println("after compaction:")
		fmt.Print(rep.String())
		return 0
	default:
		fmt.Fprintln(os.Stderr, "usage: kvlogctl verify|compact DIR")
		return 2
	}
}
