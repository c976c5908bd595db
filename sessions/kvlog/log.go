package kvlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Log is an open store. Put, Delete, Commit, Stats and Replay are safe for concurrent use
// by any number of goroutines; Close may be called once or more from any goroutine.
//
// Three goroutines belong to a Log: the writer (owns the active segment file, runs group
// commits and calls Commit callbacks and OnState), the compactor, and the caller's.
type Log struct {
	dir  string
	opts Options
	fs   fileSystem
	lock *os.File

	// mu guards the pending batch and the flags the callers read.
	mu         sync.Mutex
	pending    *batch
	spare      *batch        // the writer's other batch, nil while it is being written
	inflight   int64         // bytes of the batch being written
	durableSeq atomic.Uint64 // see DurableSeq; written by the writer goroutine only
	seq        uint64        // last assigned sequence number
	failErr    error         // non-nil (wrapping ErrUnavailable) while the store is failed
	lostErr    error         // uncommitted records were dropped: reported to the next Commit
	closing    bool

	kick        chan struct{} // wakes the writer
	compactKick chan struct{} // wakes the compactor
	stop        chan struct{} // closed by Close: the compactor gives up
	wg          sync.WaitGroup

	// idxMu guards the index, the segment list and the accounting of every segment.
	idxMu sync.RWMutex
	index map[string]*entry
	// indexPeak is the index's largest size since its map was built; indexRebuilds counts
	// the rebuilds into a smaller map (shrink.go).
	indexPeak, indexRebuilds int
	segs                     []*segment // log order; the last one is the active segment
	total                    int64      // sum of segment sizes
	live                     int64      // sum of live record bytes

	// Writer goroutine state (and Open's, before the writer starts).
	active    *segment
	writeOff  int64 // end of what has been written to the active segment
	syncOff   int64 // end of what has been fsynced
	dirty     bool  // writeOff > syncOff
	nextMajor uint64
	wfailed   bool   // writer's view of failErr != nil
	truncTo   int64  // >= 0: the active segment must be cut back there before writing again
	batches   uint64 // batches processed; trimIdle compares it between its calls (shrink.go)
	trimmedAt uint64 // batches at trimIdle's previous call

	compactMu   sync.Mutex // serializes compactions
	compactions int64      // guarded by idxMu

	closeOnce sync.Once
	closeErr  error
}

// batch is a group of records and commit requests handed to the writer at once.
type batch struct {
	buf       []byte // encoded records, checksums filled by the writer
	commits   []commitReq
	uncovered bool   // records after the last commit request
	rotate    bool   // seal the active segment before completing the commits
	maxSeq    uint64 // sequence number of the last record in buf
}

type commitReq struct {
	done func(error)
	err  error // already failed (records dropped before this Commit)
}

func (b *batch) empty() bool { return len(b.buf) == 0 && len(b.commits) == 0 && !b.rotate }

func (b *batch) reset() {
	// Do not pin a burst's worth of memory: a buffer over 4 MiB goes at once, one over 256 KiB
	// when the batch just written used less than a quarter of it (the burst is over; a
	// steady load keeps its buffers).
	if c := cap(b.buf); c > 4<<20 || c > 256<<10 && len(b.buf) < c/4 {
		b.buf = nil
	}
	b.buf = b.buf[:0]
	clear(b.commits)
	b.commits = b.commits[:0]
	b.uncovered, b.rotate = false, false
}

// Open opens the store in dir, creating the directory if needed, and rebuilds the index by
// reading every segment. Damage never makes Open fail: every valid record before it is
// loaded, the unreadable rest is moved to dir/quarantine/ and described in Recovery. Open
// fails only when the directory cannot be used (not a directory, permissions, locked by
// another Log). The Log must be closed with Close.
func Open(dir string, opts Options) (*Log, Recovery, error) {
	start := time.Now()
	opts.withDefaults()
	fsys := opts.fs
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return nil, Recovery{}, fmt.Errorf("kvlog: cannot create directory %q: %w", dir, err)
	}
	if st, err := fsys.Stat(dir); err != nil {
		return nil, Recovery{}, fmt.Errorf("kvlog: %w", err)
	} else if !st.IsDir() {
		return nil, Recovery{}, fmt.Errorf("kvlog: %q is not a directory", dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, Recovery{}, err
	}
	ld, err := load(fsys, dir, true, opts.Logf)
	if err != nil {
		lock.Close()
		return nil, Recovery{}, err
	}
	l := &Log{
		dir:         dir,
		opts:        opts,
		fs:          fsys,
		lock:        lock,
		pending:     &batch{},
		spare:       &batch{},
		seq:         ld.maxSeq,
		kick:        make(chan struct{}, 1),
		compactKick: make(chan struct{}, 1),
		stop:        make(chan struct{}),
		index:       ld.index,
		indexPeak:   ld.peak,
		segs:        ld.segs,
		nextMajor:   ld.maxMajor + 1,
		truncTo:     -1,
	}
	l.durableSeq.Store(ld.maxSeq) // everything loaded is on disk
	l.noteIndexSize()             // a log whose keys were mostly deleted: size the map for the live ones
	for _, s := range l.segs {
		l.total += s.size
		l.live += s.live
	}
	// Always start a fresh segment: the previous tail may have been cut by a crash.
	seg, err := l.createSegment(segName{l.nextMajor, 0}, header{kind: kindLog}, true)
	if err != nil {
		for _, s := range l.segs {
			s.f.Close()
		}
		lock.Close()
		return nil, Recovery{}, fmt.Errorf("kvlog: cannot create a segment in %q: %w", dir, err)
	}
	l.nextMajor++
	l.segs = append(l.segs, seg)
	l.total += seg.size
	l.active, l.writeOff, l.syncOff = seg, headerSize, headerSize

	rec := Recovery{Report: ld.report, Duration: time.Since(start)}
	for _, d := range rec.Damaged {
		opts.Logf("kvlog: %s: %s", dir, d)
	}
	if n := len(rec.ObsoleteFiles); n > 0 {
		opts.Logf("kvlog: %s: finished an interrupted compaction (removed %d replaced segments)", dir, n)
	}
	if n := len(rec.PartialCompaction); n > 0 {
		opts.Logf("kvlog: %s: kept %d outputs of an interrupted compaction", dir, n)
	}
	l.wg.Add(2)
	go l.runWriter()
	go l.runCompactor()
	l.maybeCompact()
	return l, rec, nil
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("kvlog: cannot use directory %q: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("kvlog: cannot lock %q: %w", dir, err)
	}
	return f, nil
}

// createSegment creates a segment file with its header. With sync it makes the file and its
// directory entry durable, so that records acknowledged in it cannot vanish with the file.
func (l *Log) createSegment(name segName, h header, sync bool) (*segment, error) {
	h.name = name
	path := filepath.Join(l.dir, name.String())
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	var hb [headerSize]byte
	h.encode(hb[:])
	_, err = f.WriteAt(hb[:], 0)
	if err == nil && sync {
		err = f.Sync()
		if err == nil {
			err = l.fs.SyncDir(l.dir)
		}
	}
	if err != nil {
		f.Close()
		l.fs.Remove(path)
		return nil, err
	}
	return &segment{name: name, hdr: h, path: path, f: f, size: headerSize}, nil
}

// Put records that key has value. It copies both slices and returns without waiting for
// the disk: call Commit to learn when the record is durable. Records become durable in the
// order Put and Delete were called (across goroutines: in the order they took the lock).
//
// It returns an error wrapping ErrUnavailable while the store is failed, ErrBusy when more
// than Options.MaxPending bytes wait for the disk, ErrTooLarge or ErrClosed.
func (l *Log) Put(key, value []byte) error { return l.add(recPut, key, value) }

// Delete records that key has no value. Same contract as Put.
func (l *Log) Delete(key []byte) error { return l.add(recDelete, key, nil) }

func (l *Log) add(kind byte, key, value []byte) error {
	if len(key) > MaxKeySize || len(value) > MaxValueSize {
		return ErrTooLarge
	}
	size := int64(recordSize(len(key), len(value)))
	l.mu.Lock()
	switch {
	case l.closing:
		l.mu.Unlock()
		return ErrClosed
	case l.failErr != nil:
		err := l.failErr
		l.mu.Unlock()
		return err
	case int64(len(l.pending.buf))+l.inflight+size > l.opts.MaxPending:
		l.mu.Unlock()
		if size > l.opts.MaxPending {
			return ErrTooLarge
		}
		return ErrBusy
	}
	b := l.pending
	wake := b.empty()
	l.seq++
	b.maxSeq = l.seq
	b.buf = appendRecord(b.buf, kind, l.seq, key, value)
	b.uncovered = true
	l.mu.Unlock()
	if wake {
		l.wakeWriter()
	}
	return nil
}

func (l *Log) wakeWriter() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Commit arranges for done to be called once every Put and Delete that returned before
// Commit was called is durable under the fsync policy: after the fsync of the group commit
// holding them with FsyncAlways, once written to the operating system otherwise.
//
// done(nil) means durable. done(err) (err wraps ErrUnavailable) means some of those records
// may not be: the write or fsync failed, or earlier records were dropped while the store
// was failed. done is called exactly once, on the writer goroutine, in Commit order; it must
// not block and must not wait for another Commit. After Close, done(ErrClosed) is called on a
// new goroutine.
func (l *Log) Commit(done func(error)) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		go done(ErrClosed)
		return
	}
	b := l.pending
	wake := b.empty()
	req := commitReq{done: done, err: l.lostErr}
	l.lostErr = nil
	b.commits = append(b.commits, req)
	b.uncovered = false
	l.mu.Unlock()
	if wake {
		l.wakeWriter()
	}
}

// Sync commits and waits: it returns once every earlier Put and Delete is durable under the
// policy, or the error Commit would report. It must not be called from a Commit callback.
func (l *Log) Sync() error {
	ch := make(chan error, 1)
	l.Commit(func(err error) { ch <- err })
	return <-ch
}

// Stats is a snapshot of a Log's size and state.
type Stats struct {
	LiveKeys     int
	LiveBytes    int64 // bytes of the records holding live keys
	TotalBytes   int64 // bytes of all segments, headers included
	Segments     int
	PendingBytes int64 // accepted by Put/Delete, not yet written
	Failed       bool
	Compactions  int64 // compactions finished since Open
	// IndexRebuilds counts the index maps rebuilt smaller since Open, once most of their
	// keys were deleted (Go maps keep their largest size's buckets otherwise).
	IndexRebuilds int64
}

// Failed reports whether the store is failed (a write or fsync error it is still retrying):
// Put and Delete refuse records until it recovers. Safe for concurrent use; one lock, no I/O.
func (l *Log) Failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failErr != nil
}

// LastSeq returns the sequence number of the last record accepted by Put or Delete so far.
// A record accepted before the call has a sequence number at most this. Safe for concurrent
// use.
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// DurableSeq returns the sequence number up to which every record is durable under the
// fsync policy (fsynced with FsyncAlways, written to the operating system otherwise), as
// Commit would report it. It only grows. Safe for concurrent use, lock-free.
func (l *Log) DurableSeq() uint64 { return l.durableSeq.Load() }

// Stats returns current figures. Safe for concurrent use; cheap (no I/O).
func (l *Log) Stats() Stats {
	l.mu.Lock()
	st := Stats{PendingBytes: int64(len(l.pending.buf)) + l.inflight, Failed: l.failErr != nil}
	l.mu.Unlock()
	l.idxMu.RLock()
	st.LiveKeys = len(l.index)
	st.LiveBytes = l.live
	st.TotalBytes = l.total
	st.Segments = len(l.segs)
	st.Compactions = l.compactions
	st.IndexRebuilds = int64(l.indexRebuilds)
	l.idxMu.RUnlock()
	return st
}

// Close writes and fsyncs everything accepted so far (whatever the policy), completes every
// pending Commit, stops the background goroutines and closes the files. It returns the
// store's failure if the final flush could not be made. Calling it again returns the same
// result. Put, Delete and Commit after Close report ErrClosed.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		close(l.stop)
		l.wakeWriter()
		l.wg.Wait()
		l.idxMu.Lock()
		if a := l.active; a.size == headerSize && !l.wfailed && len(l.segs) > 0 && l.segs[len(l.segs)-1] == a {
			// Nothing was written since the last rotation: leave no empty file behind.
			if err := l.fs.Remove(a.path); err == nil {
				a.f.Close()
				l.segs = l.segs[:len(l.segs)-1]
				l.fs.SyncDir(l.dir)
			}
		}
		for _, s := range l.segs {
			if err := s.f.Close(); err != nil && l.closeErr == nil {
				l.closeErr = err
			}
		}
		l.idxMu.Unlock()
		l.mu.Lock()
		if l.closeErr == nil && l.failErr != nil {
			l.closeErr = l.failErr
		}
		l.mu.Unlock()
		l.lock.Close()
	})
	return l.closeErr
}
