package kvlog

import (
	"fmt"
)

// Verify reads every segment of the store in dir and reports what Open would load and what
// it would repair (damage, temp files, obsolete segments), without modifying anything. It
// takes no lock: run it on a store no process has open, or expect the live tail to be
// reported as damaged.
func Verify(dir string) (Report, error) {
	return verify(osFS{}, dir)
}

func verify(fsys fileSystem, dir string) (Report, error) {
	st, err := fsys.Stat(dir)
	if err != nil {
		return Report{}, fmt.Errorf("kvlog: %w", err)
	}
	if !st.IsDir() {
		return Report{}, fmt.Errorf("kvlog: %q is not a directory", dir)
	}
	ld, err := load(fsys, dir, false, func(string, ...any) {})
	if err != nil {
		return Report{}, err
	}
	return ld.report, nil
}

// Compact opens the store in dir (repairing it as Open does), rewrites all of it into
// compacted segments, closes it, and returns what Open found (Recovery) and a report of
// the result. opts are used as by Open; automatic compaction is irrelevant here.
func Compact(dir string, opts Options) (Recovery, Report, error) {
	l, rec, err := Open(dir, opts)
	if err != nil {
		return rec, Report{}, err
	}
	err = l.Compact()
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rec, Report{}, err
	}
	rep, err := verify(l.fs, dir)
	return rec, rep, err
}
