package kvlog

import (
	"fmt"
	"io"
	"slices"
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
	// One pass over the index collects the live offsets of each segment (4 bytes per live
	// key, for the duration of Replay); the segments are then read sequentially and merged
	// with the sorted offsets, which avoids a hash lookup per record read.
	live := make(map[*segment][]uint32, len(l.segs))
	for _, e := range l.index {
		live[e.seg] = append(live[e.seg], e.off)
	}
	for _, s := range l.segs {
		offs := live[s]
		if len(offs) == 0 {
			continue
		}
		slices.Sort(offs)
		sc := newScanner(s.f, int64(offs[0]), s.size)
		for len(offs) > 0 {
			rec, off, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("kvlog: replaying %s: %w", s.path, err)
			}
			if int64(offs[0]) != off {
				continue
			}
			offs = offs[1:]
			if err := fn(rec.key, rec.value); err != nil {
				return err
			}
		}
		if len(offs) > 0 {
			panic(fmt.Sprintf("BUG: %d live records of %s not found by Replay", len(offs), s.path))
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
