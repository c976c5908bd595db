package kvlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

var errStopped = errors.New("kvlog: compaction stopped by Close")

func (l *Log) runCompactor() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		case <-l.compactKick:
		}
		if err := l.compact(false); err != nil && !errors.Is(err, errStopped) {
			l.opts.Logf("kvlog: %s: compaction failed: %v", l.dir, err)
			select { // do not spin on a full disk
			case <-l.stop:
				return
			case <-time.After(l.opts.RetryInterval):
			}
		}
	}
}

// Compact seals the active segment and rewrites every sealed segment into compacted ones
// holding only the live records, then removes the old files. It blocks until done; Put,
// Delete and Commit keep working meanwhile. Safe for concurrent use (compactions are
// serialized with the background one); must not be called from a Commit callback.
func (l *Log) Compact() error {
	ch := make(chan error, 1)
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	wake := l.pending.empty()
	l.pending.rotate = true
	l.pending.commits = append(l.pending.commits, commitReq{done: func(err error) { ch <- err }, err: l.lostErr})
	l.lostErr = nil
	l.pending.uncovered = false
	l.mu.Unlock()
	if wake {
		l.wakeWriter()
	}
	if err := <-ch; err != nil {
		return err
	}
	return l.compact(true)
}

// move is a live record copied by compaction, to be re-pointed at the switch.
type move struct {
	e      *entry
	from   *segment
	fromAt uint32
	to     int // output index
	toAt   uint32
}

// compact rewrites the sealed segments (a prefix of the log) into new ones. Protocol, which
// doc.go argues crash-safe:
//  1. write the live records into NAME.seg.tmp files named after the last input (the cover);
//  2. write their final headers (part i of n), fsync each;
//  3. rename each to NAME.seg, fsync the directory: the compaction is now decided;
//  4. point the index at the copies, swap the segment list;
//  5. remove the inputs oldest first, fsync the directory.
func (l *Log) compact(force bool) error {
	l.compactMu.Lock()
	defer l.compactMu.Unlock()

	l.idxMu.RLock()
	if len(l.segs) < 2 || (!force && !l.shouldCompact()) {
		l.idxMu.RUnlock()
		return nil
	}
	inputs := append([]*segment(nil), l.segs[:len(l.segs)-1]...)
	sizes := make([]int64, len(inputs))
	var inBytes, dead int64
	for i, s := range inputs {
		sizes[i] = s.size
		inBytes += s.size
		dead += s.dead()
	}
	l.idxMu.RUnlock()
	if dead == 0 && len(inputs) == 1 && inputs[0].hdr.kind == kindCompacted {
		return nil // already compact
	}
	start := time.Now()
	cover := inputs[len(inputs)-1].name
	w := &compactWriter{l: l, cover: cover}
	defer w.abort() // no-op once committed

	var moves []move
	var records int64
	for i, in := range inputs {
		sc := newScanner(in.f, headerSize, sizes[i])
		for {
			rec, off, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", in.path, err)
			}
			if records++; records%1024 == 0 {
				select {
				case <-l.stop:
					return errStopped
				default:
				}
			}
			if rec.kind != recPut {
				continue // tombstone: everything older is in the inputs too
			}
			l.idxMu.RLock()
			e := l.index[string(rec.key)]
			live := e != nil && e.seg == in && int64(e.off) == off
			l.idxMu.RUnlock()
			if !live {
				continue
			}
			to, at, err := w.add(rec.raw)
			if err != nil {
				return err
			}
			moves = append(moves, move{e: e, from: in, fromAt: uint32(off), to: to, toAt: uint32(at)})
		}
	}
	l.opts.testHook("copied")
	outs, err := w.commit()
	if err != nil {
		return err
	}
	l.opts.testHook("committed")

	l.idxMu.Lock()
	for _, m := range moves {
		if m.e.seg == m.from && m.e.off == m.fromAt {
			m.e.seg, m.e.off = outs[m.to], m.toAt
			outs[m.to].live += int64(m.e.size)
		}
	}
	if len(l.segs) < len(inputs) || l.segs[len(inputs)-1] != inputs[len(inputs)-1] {
		panic("BUG: compaction inputs are no longer a prefix of the log")
	}
	l.segs = append(outs, l.segs[len(inputs):]...)
	l.total, l.live = 0, 0
	for _, s := range l.segs {
		l.total += s.size
		l.live += s.live
	}
	l.compactions++
	var outBytes int64
	for _, s := range outs {
		outBytes += s.size
	}
	l.idxMu.Unlock()

	l.opts.testHook("switched")
	for i, in := range inputs {
		in.f.Close()
		if err := l.fs.Remove(in.path); err != nil {
			l.opts.Logf("kvlog: cannot remove compacted segment %s: %v", in.path, err)
		}
		if i == 0 {
			l.opts.testHook("removed-first")
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.opts.Logf("kvlog: cannot sync directory %s: %v", l.dir, err)
	}
	l.opts.Logf("kvlog: %s: compacted %d segments (%d bytes) into %d (%d bytes, %d live records) in %v",
		l.dir, len(inputs), inBytes, len(outs), outBytes, len(moves), time.Since(start).Round(time.Millisecond))
	return nil
}

// compactWriter writes the outputs of one compaction.
type compactWriter struct {
	l         *Log
	cover     segName
	outs      []*segment
	buf       []byte
	off       int64 // end of the current output (buffered bytes included)
	committed bool
	renamed   int
}

const compactBufSize = 1 << 20

func (w *compactWriter) cur() *segment { return w.outs[len(w.outs)-1] }

func (w *compactWriter) open() error {
	name := segName{w.cover.major, w.cover.minor + 1 + uint32(len(w.outs))}
	if name.minor <= w.cover.minor {
		return errors.New("compaction name space exhausted")
	}
	path := filepath.Join(w.l.dir, name.temp())
	f, err := w.l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w.outs = append(w.outs, &segment{name: name, path: path, f: f,
		hdr: header{kind: kindCompacted, name: name, cover: w.cover}})
	w.buf = append(w.buf[:0], make([]byte, headerSize)...) // final header written at commit
	w.off = headerSize
	return nil
}

func (w *compactWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	s := w.cur()
	if _, err := s.f.WriteAt(w.buf, w.off-int64(len(w.buf))); err != nil {
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	w.buf = w.buf[:0]
	return nil
}

// add appends one encoded record and returns where it went.
func (w *compactWriter) add(raw []byte) (int, int64, error) {
	if len(w.outs) == 0 || w.off >= w.l.opts.SegmentSize {
		if len(w.outs) > 0 {
			if err := w.flush(); err != nil {
				return 0, 0, err
			}
		}
		if err := w.open(); err != nil {
			return 0, 0, err
		}
	}
	at := w.off
	w.buf = append(w.buf, raw...)
	w.off += int64(len(raw))
	if len(w.buf) >= compactBufSize {
		if err := w.flush(); err != nil {
			return 0, 0, err
		}
	}
	return len(w.outs) - 1, at, nil
}

// commit makes the outputs durable and adopts them (steps 2 and 3).
func (w *compactWriter) commit() ([]*segment, error) {
	if len(w.outs) == 0 {
		if err := w.open(); err != nil { // an empty output still marks the compaction done
			return nil, err
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	w.cur().size = w.off
	var hb [headerSize]byte
	for i, s := range w.outs {
		if i < len(w.outs)-1 {
			st, err := s.f.Stat()
			if err != nil {
				return nil, err
			}
			s.size = st.Size()
		}
		s.hdr.part, s.hdr.parts = uint32(i), uint32(len(w.outs))
		s.hdr.encode(hb[:])
		if _, err := s.f.WriteAt(hb[:], 0); err != nil {
			return nil, fmt.Errorf("writing %s: %w", s.path, err)
		}
		if err := s.f.Sync(); err != nil {
			return nil, fmt.Errorf("fsync %s: %w", s.path, err)
		}
	}
	w.l.opts.testHook("synced")
	for _, s := range w.outs {
		final := filepath.Join(w.l.dir, s.name.String())
		if err := w.l.fs.Rename(s.path, final); err != nil {
			return nil, err
		}
		s.path = final
		w.renamed++
		if w.renamed == 1 {
			w.l.opts.testHook("renamed-first")
		}
	}
	if err := w.l.fs.SyncDir(w.l.dir); err != nil {
		return nil, fmt.Errorf("fsync directory: %w", err)
	}
	w.committed = true
	return w.outs, nil
}

// abort removes the outputs of a compaction that did not commit. Renamed outputs can be
// removed too: the inputs were not touched.
func (w *compactWriter) abort() {
	if w.committed {
		return
	}
	for _, s := range w.outs {
		s.f.Close()
		w.l.fs.Remove(s.path)
	}
}
