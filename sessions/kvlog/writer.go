package kvlog

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runWriter is the writer goroutine: it owns the active segment, takes the pending batch,
// writes it with one system call, fsyncs per policy and completes the commits. Records
// submitted while it writes or fsyncs form the next batch: that is the group commit.
func (l *Log) runWriter() {
	defer l.wg.Done()
	var syncC <-chan time.Time
	if l.opts.Fsync == FsyncInterval {
		t := time.NewTicker(l.opts.FsyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	idle := time.NewTicker(l.opts.idleTrim)
	defer idle.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-l.kick:
		case <-syncC:
			if l.dirty && !l.wfailed {
				if err := l.syncActive(); err != nil {
					l.fail(err, -1)
				}
			}
		case <-retry.C:
			l.tryRecover()
		case <-idle.C:
			l.trimIdle()
		}
		for {
			l.mu.Lock()
			b := l.pending
			if b.empty() {
				closing := l.closing
				l.mu.Unlock()
				if closing {
					l.finish()
					return
				}
				break
			}
			l.pending, l.spare = l.spare, nil
			l.inflight = int64(len(b.buf))
			l.mu.Unlock()

			l.process(b)
			l.batches++

			b.reset()
			l.mu.Lock()
			l.spare = b
			l.inflight = 0
			l.mu.Unlock()
		}
		if l.wfailed {
			retry.Reset(l.opts.RetryInterval)
		}
	}
}

// process writes one batch and completes its commits.
func (l *Log) process(b *batch) {
	if l.wfailed {
		l.drop(b, l.failure())
		return
	}
	if len(b.buf) > 0 {
		if l.writeOff >= l.opts.SegmentSize {
			if err := l.rotate(); err != nil {
				l.fail(fmt.Errorf("new segment: %w", err), -1)
				l.drop(b, l.failure())
				return
			}
		}
		sealRecords(b.buf)
		seg, base := l.active, l.writeOff
		if _, err := seg.f.WriteAt(b.buf, base); err != nil {
			l.fail(err, base)
			l.drop(b, l.failure())
			return
		}
		l.writeOff += int64(len(b.buf))
		l.dirty = true
		l.mu.Lock()
		l.inflight = 0 // written: no longer pending memory-wise
		l.mu.Unlock()
		if l.opts.Fsync == FsyncAlways {
			if err := l.syncActive(); err != nil {
				// The batch was never acknowledged: cut it off so that the file holds
				// exactly the acknowledged records.
				l.fail(err, base)
				l.drop(b, l.failure())
				return
			}
		}
		l.apply(b.buf, seg, base)
		if b.maxSeq > l.durableSeq.Load() {
			l.durableSeq.Store(b.maxSeq)
		}
	}
	var err error
	if b.rotate {
		if err = l.rotate(); err != nil {
			err = fmt.Errorf("%w: new segment: %w", ErrUnavailable, err)
		}
	}
	for _, c := range b.commits {
		if c.err != nil {
			c.done(c.err)
		} else {
			c.done(err)
		}
	}
}

// drop fails a batch that could not be written.
func (l *Log) drop(b *batch, err error) {
	if b.uncovered {
		l.mu.Lock()
		if l.lostErr == nil {
			l.lostErr = err
		}
		l.mu.Unlock()
	}
	for _, c := range b.commits {
		if c.err != nil {
			c.done(c.err)
		} else {
			c.done(err)
		}
	}
}

func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failErr
}

// apply points the index at the records of buf, just written at base in seg.
func (l *Log) apply(buf []byte, seg *segment, base int64) {
	l.idxMu.Lock()
	off := base
	for p := buf; len(p) > 0; {
		n := recordPrefix + int(binary.LittleEndian.Uint32(p))
		kind := p[recordPrefix]
		seq := binary.LittleEndian.Uint64(p[recordPrefix+1:])
		klen, w := binary.Uvarint(p[recordPrefix+9:])
		key := p[recordPrefix+9+w : recordPrefix+9+w+int(klen)]
		e := l.index[string(key)]
		if e != nil {
			e.seg.live -= int64(e.size)
			l.live -= int64(e.size)
		}
		if kind == recDelete {
			if e != nil {
				e.seg = nil
				delete(l.index, string(key))
			}
		} else {
			if e == nil {
				e = &entry{}
				l.index[string(key)] = e
			}
			*e = entry{seg: seg, off: uint32(off), size: uint32(n), seq: seq}
			seg.live += int64(n)
			l.live += int64(n)
		}
		off += int64(n)
		p = p[n:]
	}
	seg.size = off
	l.total += int64(len(buf))
	l.noteIndexSize()
	trigger := l.shouldCompact()
	l.idxMu.Unlock()
	if trigger {
		l.kickCompactor()
	}
}

// shouldCompact applies the thresholds to the sealed segments. Called with idxMu held.
func (l *Log) shouldCompact() bool {
	if l.opts.CompactRatio < 0 || l.total < l.opts.CompactMinSize || len(l.segs) < 2 {
		return false
	}
	var dead int64
	for _, s := range l.segs[:len(l.segs)-1] {
		dead += s.dead()
	}
	return float64(dead) > l.opts.CompactRatio*float64(l.total)
}

func (l *Log) maybeCompact() {
	l.idxMu.RLock()
	trigger := l.shouldCompact()
	l.idxMu.RUnlock()
	if trigger {
		l.kickCompactor()
	}
}

func (l *Log) kickCompactor() {
	select {
	case l.compactKick <- struct{}{}:
	default:
	}
}

func (l *Log) syncActive() error {
	if err := l.active.f.Sync(); err != nil {
		return err
	}
	l.syncOff = l.writeOff
	l.dirty = false
	return nil
}

// rotate seals the active segment and starts the next one.
func (l *Log) rotate() error {
	if l.dirty && l.opts.Fsync != FsyncNever {
		if err := l.syncActive(); err != nil {
			return err
		}
	}
	seg, err := l.createSegment(segName{l.nextMajor, 0}, header{kind: kindLog}, l.opts.Fsync != FsyncNever)
	if err != nil {
		return err
	}
	l.nextMajor++
	l.idxMu.Lock()
	l.segs = append(l.segs, seg)
	l.total += seg.size
	l.idxMu.Unlock()
	l.active, l.writeOff, l.syncOff, l.dirty = seg, headerSize, headerSize, false
	return nil
}

// fail enters the failed state. truncTo >= 0 says the active segment holds unacknowledged
// bytes from there on, to be cut before anything else is written.
func (l *Log) fail(err error, truncTo int64) {
	if truncTo >= 0 {
		l.writeOff = truncTo
		if l.syncOff > truncTo {
			l.syncOff = truncTo
		}
		if terr := l.active.f.Truncate(truncTo); terr != nil {
			l.truncTo = truncTo
		}
	}
	if l.wfailed {
		return
	}
	l.wfailed = true
	l.mu.Lock()
	l.failErr = fmt.Errorf("%w: %w", ErrUnavailable, err)
	l.mu.Unlock()
	l.opts.Logf("kvlog: %s: store failed: %v", l.dir, err)
	l.opts.OnState(true, err)
}

// tryRecover probes the disk: it cuts back an unacknowledged tail, fsyncs the active
// segment and writes and fsyncs a probe file. Success leaves the failed state.
func (l *Log) tryRecover() {
	if !l.wfailed {
		return
	}
	if l.truncTo >= 0 {
		if err := l.active.f.Truncate(l.truncTo); err != nil {
			return
		}
		l.truncTo = -1
	}
	if err := l.active.f.Sync(); err != nil {
		return
	}
	l.syncOff, l.dirty = l.writeOff, false
	if err := l.probe(); err != nil {
		return
	}
	l.wfailed = false
	l.mu.Lock()
	l.failErr = nil
	l.mu.Unlock()
	l.opts.Logf("kvlog: %s: store recovered", l.dir)
	l.opts.OnState(false, nil)
}

func (l *Log) probe() error {
	path := filepath.Join(l.dir, probeName)
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer l.fs.Remove(path)
	_, err = f.WriteAt(make([]byte, 64<<10), 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish runs on the writer when closing: the last fsync.
func (l *Log) finish() {
	if l.wfailed {
		l.tryRecover()
	}
	if l.dirty && !l.wfailed {
		if err := l.syncActive(); err != nil {
			l.fail(err, -1)
		}
	}
}
