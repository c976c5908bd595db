package kvlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// scanBytes runs the segment reader over an in-memory segment: header check, records,
// damage counting. It is what Open does with one file, without the file system.
func scanBytes(data []byte) (records int, damaged bool) {
	if _, err := decodeHeader(data); err != nil {
		if len(data) > headerSize {
			countValid(data[headerSize:])
		}
		return 0, true
	}
	sc := newScanner(bytes.NewReader(data), headerSize, int64(len(data)))
	for {
		rec, off, err := sc.next()
		if err == io.EOF {
			return records, false
		}
		if err != nil {
			var de *damageError
			if !errors.As(err, &de) || de.off != off || off < headerSize || off > int64(len(data)) {
				panic("BUG: bad damage report")
			}
			countIntact(data[off:])
			return records, true
		}
		if rec.kind == recPut || rec.kind == recDelete {
			records++
		}
	}
}

func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	var hb [headerSize]byte
	(&header{kind: kindLog, name: segName{1, 0}}).encode(hb[:])
	seg := append([]byte(nil), hb[:]...)
	for i := 0; i < 5; i++ {
		seg = appendRecord(seg, recPut, uint64(i+1), []byte{'k', byte(i)}, bytes.Repeat([]byte{'v'}, i*7))
	}
	seg = appendRecord(seg, recDelete, 6, []byte("k\x01"), nil)
	sealRecords(seg[headerSize:])
	seeds = append(seeds, seg, seg[:len(seg)-3], hb[:], hb[:20], nil)
	flipped := bytes.Clone(seg)
	flipped[headerSize+12] ^= 4
	seeds = append(seeds, flipped, append(bytes.Clone(seg), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	return seeds
}

// FuzzSegmentReader: arbitrary bytes never panic the reader and a valid prefix is read.
func FuzzSegmentReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		scanBytes(data)
	})
}

// FuzzOpen: a directory holding one arbitrary segment file always opens.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName{1, 0}.String()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, _, err := Open(dir, Options{CompactRatio: -1})
		if err != nil {
			t.Fatal(err)
		}
		l.Replay(func(k, v []byte) error { return nil })
		l.Close()
		l, rec, err := Open(dir, Options{CompactRatio: -1})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		if !rec.Clean() {
			t.Fatalf("damage left after repair: %v", rec.Damaged)
		}
	})
}
