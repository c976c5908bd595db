package kvlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// entry locates the latest record of a live key. Guarded by Log.idxMu.
type entry struct {
	seg  *segment // nil once the key is deleted (compaction checks it)
	off  uint32
	size uint32
	seq  uint64
}

// loaded is the state rebuilt from a directory.
type loaded struct {
	segs     []*segment // log order
	index    map[string]*entry
	peak     int // the index's largest size while loading (shrink.go)
	maxSeq   uint64
	maxMajor uint64
	report   Report
}

// load reads every segment of dir and builds the index. With repair it acts on what it
// finds (quarantines damaged tails, removes temp, obsolete and empty files) and leaves the
// segment files open; without it (Verify) it changes nothing and closes every file.
func load(fsys fileSystem, dir string, repair bool, logf func(string, ...any)) (*loaded, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("kvlog: cannot read directory %q: %w", dir, err)
	}
	ld := &loaded{index: make(map[string]*entry)}
	rep := &ld.report
	var segs []*segment
	closeAll := func() {
		for _, s := range segs {
			if s.f != nil {
				s.f.Close()
			}
		}
	}

	for _, de := range ents {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		if _, ok := parseSegName(name, tempSuffix); ok {
			rep.TempFiles = append(rep.TempFiles, name)
			if repair {
				if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
					logf("kvlog: cannot remove temp file %s: %v", name, err)
				}
			}
			continue
		}
		sn, ok := parseSegName(name, segSuffix)
		if !ok {
			continue
		}
		path := filepath.Join(dir, name)
		flag := os.O_RDONLY
		if repair {
			flag = os.O_RDWR
		}
		f, err := fsys.OpenFile(path, flag, 0)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("kvlog: cannot open segment %q: %w", path, err)
		}
		ld.maxMajor = max(ld.maxMajor, sn.major)
		st, err := f.Stat()
		var hb [headerSize]byte
		var n int
		if err == nil {
			n, err = f.ReadAt(hb[:], 0)
			if err == io.EOF {
				err = nil
			}
		}
		var h header
		if err == nil {
			h, err = decodeHeader(hb[:n])
		}
		if err == nil && h.name != sn {
			err = fmt.Errorf("header names segment %s", h.name)
		}
		if err != nil {
			size := int64(n)
			if st != nil {
				size = st.Size()
			}
			d := Damage{File: name, Bytes: size, Reason: "bad segment header: " + err.Error()}
			if tail, rerr := readTail(f, 0, size); rerr == nil && len(tail) > headerSize {
				d.RecordsLost = countValid(tail[headerSize:])
			}
			f.Close()
			if repair {
				d.MovedTo, err = quarantineFile(fsys, dir, name)
				if err != nil {
					logf("kvlog: cannot quarantine %s: %v", name, err)
				}
			}
			rep.Damaged = append(rep.Damaged, d)
			continue
		}
		segs = append(segs, &segment{name: sn, hdr: h, path: path, f: f, size: st.Size()})
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		if a.name.less(b.name) {
			return -1
		}
		if b.name.less(a.name) {
			return 1
		}
		return 0
	})

	// A compaction is finished when all its outputs exist: everything up to its cover is
	// then obsolete. Outputs are renamed into place only after all are complete and synced,
	// and inputs are removed only after every rename is durable (see doc.go).
	present := make(map[segName]*segment, len(segs))
	for _, s := range segs {
		present[s.name] = s
	}
	var cover segName
	haveCover := false
	partial := make(map[*segment]bool)
	for _, s := range segs {
		if s.hdr.kind != kindCompacted {
			continue
		}
		complete := true
		for i := uint32(0); i < s.hdr.parts; i++ {
			p := present[segName{s.hdr.cover.major, s.hdr.cover.minor + 1 + i}]
			if p == nil || p.hdr.kind != kindCompacted || p.hdr.cover != s.hdr.cover || p.hdr.parts != s.hdr.parts || p.hdr.part != i {
				complete = false
				break
			}
		}
		if complete {
			if !haveCover || cover.less(s.hdr.cover) {
				cover, haveCover = s.hdr.cover, true
			}
		} else {
			partial[s] = true
		}
	}
	kept := segs[:0]
	var removed []string
	for _, s := range segs {
		if haveCover && !cover.less(s.name) {
			rep.ObsoleteFiles = append(rep.ObsoleteFiles, s.name.String())
			s.f.Close()
			s.f = nil
			removed = append(removed, s.path)
			continue
		}
		if partial[s] {
			rep.PartialCompaction = append(rep.PartialCompaction, s.name.String())
		}
		kept = append(kept, s)
	}
	segs = kept
	if repair {
		// Oldest first, so that an interrupted removal always leaves a suffix of the
		// obsolete segments (see doc.go); the finished compaction's outputs make them
		// obsolete again at the next Open anyway.
		for _, p := range removed {
			if err := fsys.Remove(p); err != nil {
				logf("kvlog: cannot remove obsolete segment %s: %v", p, err)
			}
		}
	}

	// Replay in log order. The sequence number decides between two copies of a key (a
	// partial compaction's outputs duplicate their inputs): the higher one wins, an equal
	// one is the same record.
	var empty []*segment
	for _, s := range segs {
		end := s.size
		sc := newScanner(s.f, headerSize, end)
		records := 0
		for {
			rec, off, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var de *damageError
				if !errors.As(err, &de) {
					panic("BUG: scanner returned " + err.Error())
				}
				rep.Damaged = append(rep.Damaged, damageTail(fsys, dir, s, de, repair, logf))
				s.size = de.off
				break
			}
			records++
			ld.apply(s, rec, off)
		}
		rep.Records += int64(records)
		if records == 0 && s.hdr.kind == kindLog {
			empty = append(empty, s)
		}
	}
	if len(empty) > 0 {
		kept := segs[:0]
		for _, s := range segs {
			if slices.Contains(empty, s) {
				rep.EmptySegments = append(rep.EmptySegments, s.name.String())
				if repair {
					s.f.Close()
					if err := fsys.Remove(s.path); err != nil {
						logf("kvlog: cannot remove empty segment %s: %v", s.path, err)
					}
					continue
				}
			}
			kept = append(kept, s)
		}
		segs = kept
	}
	for _, s := range segs {
		rep.TotalBytes += s.size
		rep.LiveBytes += s.live
	}
	rep.Segments = len(segs)
	rep.LiveKeys = len(ld.index)
	rep.DeadRecords = rep.Records - int64(rep.LiveKeys)
	if repair && (len(removed) > 0 || len(rep.EmptySegments) > 0 || len(rep.TempFiles) > 0) {
		if err := fsys.SyncDir(dir); err != nil {
			logf("kvlog: cannot sync directory %s: %v", dir, err)
		}
	}
	if !repair {
		closeAll()
	}
	ld.segs = segs
	return ld, nil
}

// apply adds one record read at open to the index.
func (ld *loaded) apply(s *segment, rec record, off int64) {
	ld.maxSeq = max(ld.maxSeq, rec.seq)
	e := ld.index[string(rec.key)]
	if e != nil && e.seq > rec.seq {
		return // an older copy: dead
	}
	if e != nil {
		e.seg.live -= int64(e.size)
	}
	if rec.kind == recDelete {
		if e != nil {
			e.seg = nil
			delete(ld.index, string(rec.key))
		}
		return
	}
	if e == nil {
		e = &entry{}
		ld.index[string(rec.key)] = e
		ld.peak = max(ld.peak, len(ld.index))
	}
	*e = entry{seg: s, off: uint32(off), size: uint32(len(rec.raw)), seq: rec.seq}
	s.live += int64(len(rec.raw))
}

// damageTail records (and with repair quarantines) the unreadable tail of s.
func damageTail(fsys fileSystem, dir string, s *segment, de *damageError, repair bool, logf func(string, ...any)) Damage {
	d := Damage{File: s.name.String(), Offset: de.off, Bytes: s.size - de.off, Reason: de.reason}
	tail, err := readTail(s.f, de.off, s.size)
	if err != nil {
		d.RecordsLost = 1
		logf("kvlog: cannot read damaged tail of %s: %v", s.path, err)
		return d
	}
	d.RecordsLost = countIntact(tail)
	if !repair {
		return d
	}
	rel := filepath.Join(quarantine, s.name.String()+"@"+strconv.FormatInt(de.off, 10))
	moved, err := writeQuarantine(fsys, dir, rel, tail)
	if err != nil {
		logf("kvlog: cannot quarantine damaged tail of %s: %v (left in place, ignored)", s.path, err)
		return d
	}
	err = s.f.Truncate(de.off)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		logf("kvlog: cannot truncate %s after quarantine: %v", s.path, err)
	}
	d.MovedTo = moved
	return d
}

// uniqueQuarantine returns a quarantine path (relative to dir) that does not exist yet.
func uniqueQuarantine(fsys fileSystem, dir, rel string) (string, error) {
	if err := fsys.MkdirAll(filepath.Join(dir, quarantine), 0o700); err != nil {
		return "", err
	}
	cand := rel
	for i := 1; ; i++ {
		if _, err := fsys.Stat(filepath.Join(dir, cand)); errors.Is(err, os.ErrNotExist) {
			return cand, nil
		}
		cand = rel + "." + strconv.Itoa(i)
	}
}

func writeQuarantine(fsys fileSystem, dir, rel string, data []byte) (string, error) {
	rel, err := uniqueQuarantine(fsys, dir, rel)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, rel)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncDir(filepath.Join(dir, quarantine))
	}
	if err != nil {
		fsys.Remove(path)
		return "", err
	}
	return rel, nil
}

func quarantineFile(fsys fileSystem, dir, name string) (string, error) {
	rel, err := uniqueQuarantine(fsys, dir, filepath.Join(quarantine, name))
	if err != nil {
		return "", err
	}
	if err := fsys.Rename(filepath.Join(dir, name), filepath.Join(dir, rel)); err != nil {
		return "", err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return rel, err
	}
	return rel, fsys.SyncDir(filepath.Join(dir, quarantine))
}
