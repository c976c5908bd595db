package kvlog

import (
	"fmt"
	"io"
)

// Replay calls fn for every live key with its latest value, in log order (the order in which
// the surviving records were written; compaction keeps that order), reading the values from
// disk. key and value are valid only during fn and must not be modified.
//
// Replay sees one consistent state: the writer does not update the index while it runs, so
// Commit callbacks are delayed until it returns (Put and Delete still accept work up to
// Options.MaxPending). It is meant for start-up. fn must not wait for a Commit callback.
// A non-nil error from fn stops Replay and is returned as is.
func (l *Log) Replay(fn func(key, value []byte) error) error {
	l.mu.Lock()
	closing := l.closing
	l.mu.Unlock()
	if closing {
		return ErrClosed
	}
	l.idxMu.RLock()
	defer l.idxMu.RUnlock()
	for _, s := range l.segs {
		if s.live == 0 {
			continue
		}
		sc := newScanner(s.f, headerSize, s.size)
		for {
			rec, off, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("kvlog: replaying %s: %w", s.path, err)
			}
			if rec.kind != recPut {
				continue
			}
			if e := l.index[string(rec.key)]; e != nil && e.seg == s && int64(e.off) == off {
				if err := fn(rec.key, rec.value); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Get returns a copy of the latest value of key, read from disk, and whether the key is live.
// Records accepted by Put but not yet written are not visible. Safe for concurrent use.
func (l *Log) Get(key []byte) ([]byte, bool, error) {
	l.idxMu.RLock()
	defer l.idxMu.RUnlock()
	e := l.index[string(key)]
	if e == nil {
		return nil, false, nil
	}
	raw := make([]byte, e.size)
	if _, err := e.seg.f.ReadAt(raw, int64(e.off)); err != nil {
		return nil, false, fmt.Errorf("kvlog: reading %s at %d: %w", e.seg.path, e.off, err)
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil, false, fmt.Errorf("kvlog: reading %s at %d: %w", e.seg.path, e.off, err)
	}
	return rec.value, true, nil
}
