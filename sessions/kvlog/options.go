package kvlog

import (
	"errors"
	"fmt"
	"time"
)

// Fsync is the durability policy of Commit.
type Fsync int

const (
	// FsyncInterval calls Commit callbacks once the records are written to the operating
	// system and fsyncs every Options.FsyncInterval: a machine crash (not a process crash)
	// may lose up to one interval of acknowledged writes. It is the zero value and default.
	FsyncInterval Fsync = iota
	// FsyncAlways calls Commit callbacks only after the fsync of the group commit that holds
	// the records: nothing acknowledged is lost, even on power loss.
	FsyncAlways
	// FsyncNever writes to the operating system and leaves flushing to it (fsync only on
	// Close and segment rollover is skipped too). A process crash loses nothing written; a
	// machine crash may lose anything not yet flushed by the kernel.
	FsyncNever
)

// String returns the config spelling: "interval", "always" or "never".
func (f Fsync) String() string {
	switch f {
	case FsyncInterval:
		return "interval"
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	}
	return fmt.Sprintf("Fsync(%d)", int(f))
}

// ParseFsync parses the config spelling of a policy ("always", "interval", "never").
func ParseFsync(s string) (Fsync, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "interval":
		return FsyncInterval, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("kvlog: unknown fsync policy %q (want always, interval or never)", s)
}

// Options configure a Log. The zero value is usable: every zero field takes its default.
// Options are copied by Open and never read again by the caller's side.
type Options struct {
	Fsync         Fsync
	FsyncInterval time.Duration // FsyncInterval period; default 100ms
	// SegmentSize is the size at which the current segment is sealed and a new one started;
	// default 64 MiB, at most 1 GiB. A segment may exceed it by one group commit.
	SegmentSize int64
	// CompactRatio triggers background compaction when dead bytes (overwritten or deleted
	// records) in sealed segments exceed this fraction of all bytes; default 0.5. A
	// negative value disables automatic compaction (Log.Compact still works).
	CompactRatio float64
	// CompactMinSize is the store size below which automatic compaction never runs;
	// default 16 MiB.
	CompactMinSize int64
	// MaxPending bounds the bytes accepted by Put/Delete but not yet written (the pending
	// batch plus the batch being written); default 64 MiB. Past it Put returns ErrBusy.
	MaxPending int64
	// RetryInterval is how often a failed store probes the disk to recover; default 1s.
	RetryInterval time.Duration
	// Logf receives notices (recovery, compaction, failures). The package never logs by
	// itself. It is called from the store's goroutines and from Open; it must not block
	// for long nor call back into the Log.
	Logf func(format string, args ...any)
	// OnState reports the transitions of the failed state: OnState(true, err) when a write
	// or fsync fails, OnState(false, nil) when the store has recovered. It is called on the
	// writer goroutine and must not block nor call back into the Log.
	OnState func(failed bool, err error)

	fs       fileSystem    // tests inject faults here; nil means the operating system
	testHook func(string)  // tests: called at each step of compaction (crash points)
	idleTrim time.Duration // tests: idleTrimEvery instead
}

func (o *Options) withDefaults() {
	if o.FsyncInterval <= 0 {
		o.FsyncInterval = 100 * time.Millisecond
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.SegmentSize < 4096 {
		o.SegmentSize = 4096
	}
	if o.SegmentSize > 1<<30 {
		o.SegmentSize = 1 << 30
	}
	if o.CompactRatio == 0 {
		o.CompactRatio = 0.5
	}
	if o.CompactMinSize <= 0 {
		o.CompactMinSize = 16 << 20
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 64 << 20
	}
	if o.MaxPending > 1<<30 {
		o.MaxPending = 1 << 30
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.OnState == nil {
		o.OnState = func(bool, error) {}
	}
	if o.testHook == nil {
		o.testHook = func(string) {}
	}
	if o.fs == nil {
		o.fs = osFS{}
	}
	if o.idleTrim <= 0 {
		o.idleTrim = idleTrimEvery
	}
}

// Errors. Errors returned by Put, Delete and Commit callbacks wrap one of these sentinels;
// test with errors.Is.
var (
	// ErrUnavailable: the store has failed (disk full, I/O error) and cannot make writes
	// durable right now. It recovers by itself; Options.OnState reports both transitions.
	ErrUnavailable = errors.New("kvlog: store unavailable")
	// ErrBusy: more than Options.MaxPending bytes wait for the disk. Retry later or shed load.
	ErrBusy = errors.New("kvlog: too many pending writes")
	// ErrClosed: the Log is closed.
	ErrClosed = errors.New("kvlog: closed")
	// ErrTooLarge: a key longer than MaxKeySize or a value longer than MaxValueSize (or than
	// Options.MaxPending).
	ErrTooLarge = errors.New("kvlog: key or value too large")
	// ErrLocked: another Log (in this or another process) has the directory open.
	ErrLocked = errors.New("kvlog: directory in use")

	errChecksum = errors.New("checksum mismatch")
)
