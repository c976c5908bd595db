package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

const dataUsage = `data verify [DIR]             # check the durable store offline (DIR: persistence.dir)
data compact [DIR]            # repair and fully compact the durable store (the node must be stopped)
`

// runData runs `emqx_ctl data verify|compact [DIR]` locally, without a running node, and
// returns the exit code.
func runData(cfg *config.Config, args []string, out, errOut io.Writer) int {
	if len(args) < 1 || len(args) > 2 || (args[0] != "verify" && args[0] != "compact") {
		fmt.Fprint(errOut, "usage:\n"+dataUsage)
		return 1
	}
	dir := cfg.Persistence.Dir
	if len(args) == 2 {
		dir = args[1]
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(errOut, "no store directory %q: %v\n", dir, err)
		return 1
	}
	switch args[0] {
	case "verify":
		if inUse(dir) {
			fmt.Fprintf(out, "note: a running node has %s open; the tail it is writing may show as damaged\n", dir)
		}
		rep, err := kvlog.Verify(dir)
		if err != nil {
			fmt.Fprintln(errOut, err)
			return 1
		}
		fmt.Fprintf(out, "store %s\n%s", dir, rep.String())
		if !rep.Clean() {
			fmt.Fprintln(out, "the damaged bytes are moved to quarantine/ at the next start or by `emqx_ctl data compact`")
			return 2
		}
		return 0
	default:
		opts := kvlog.Options{}
		if f, err := kvlog.ParseFsync(cfg.Persistence.Fsync); err == nil {
			opts.Fsync = f
		}
		opts.SegmentSize = cfg.Persistence.SegmentSize
		rec, rep, err := kvlog.Compact(dir, opts)
		if err != nil {
			if errors.Is(err, kvlog.ErrLocked) {
				fmt.Fprintf(errOut, "the store %s is in use by a running node: stop the node first\n", dir)
			} else {
				fmt.Fprintln(errOut, err)
			}
			return 1
		}
		for _, d := range rec.Damaged {
			fmt.Fprintf(out, "repaired: %s\n", d)
		}
		fmt.Fprintf(out, "compacted %s in %s\n%s", dir, rec.Duration.Round(1e6), rep.String())
		return 0
	}
}

// inUse reports whether a process holds the store's lock (kvlog's LOCK file, flock(2)).
func inUse(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
