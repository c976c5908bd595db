package kvlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// segment is one file of the log. Its accounting fields are guarded by Log.idxMu.
type segment struct {
	name segName
	hdr  header
	path string
	f    file

	size int64 // bytes of valid data, header included, whose records are in the index
	live int64 // bytes of records the index points at
}

func (s *segment) dead() int64 { return s.size - headerSize - s.live }

// damageError describes where and why a segment stops being readable.
type damageError struct {
	off    int64
	reason string
}

func (d *damageError) Error() string {
	return fmt.Sprintf("damaged record at offset %d: %s", d.off, d.reason)
}

// scanner reads the records of a segment sequentially between two offsets.
//
// The record it returns aliases the scanner's buffers and is valid until the next call to
// next. A scanner is used by one goroutine.
type scanner struct {
	r       *bufio.Reader
	pos     int64 // offset of the next record
	end     int64
	discard int // bytes of the previous record still to skip in r
	buf     []byte
}

const scanBufSize = 256 << 10

func newScanner(f io.ReaderAt, start, end int64) *scanner {
	size := scanBufSize
	if end-start < int64(size) {
		size = max(int(end-start), 16)
	}
	return &scanner{r: bufio.NewReaderSize(io.NewSectionReader(f, start, end-start), size), pos: start, end: end}
}

// next returns the next record and its offset, io.EOF at the clean end of the range, or a
// *damageError when the bytes at pos are not a valid record (truncated, bad checksum,
// implausible length) or cannot be read.
func (s *scanner) next() (record, int64, error) {
	if s.discard > 0 {
		if _, err := s.r.Discard(s.discard); err != nil {
			return record{}, s.pos, &damageError{s.pos, "read error: " + err.Error()}
		}
		s.discard = 0
	}
	remaining := s.end - s.pos
	if remaining == 0 {
		return record{}, s.pos, io.EOF
	}
	if remaining < recordPrefix {
		return record{}, s.pos, &damageError{s.pos, fmt.Sprintf("truncated record (%d bytes left)", remaining)}
	}
	p, err := s.r.Peek(recordPrefix)
	if err != nil {
		return record{}, s.pos, &damageError{s.pos, "read error: " + err.Error()}
	}
	bodyLen := binary.LittleEndian.Uint32(p)
	if !bodyLenOK(bodyLen, remaining) {
		if bodyLen >= minBody && bodyLen <= maxBody {
			return record{}, s.pos, &damageError{s.pos, fmt.Sprintf("truncated record (length %d, %d bytes left)", bodyLen, remaining-recordPrefix)}
		}
		return record{}, s.pos, &damageError{s.pos, fmt.Sprintf("bad record length %d", bodyLen)}
	}
	n := recordPrefix + int(bodyLen)
	var raw []byte
	if n <= s.r.Size() {
		raw, err = s.r.Peek(n)
		s.discard = n
	} else {
		if cap(s.buf) < n {
			s.buf = make([]byte, n)
		}
		raw = s.buf[:n]
		_, err = io.ReadFull(s.r, raw)
	}
	if err != nil {
		return record{}, s.pos, &damageError{s.pos, "read error: " + err.Error()}
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return record{}, s.pos, &damageError{s.pos, err.Error()}
	}
	off := s.pos
	s.pos += int64(n)
	return rec, off, nil
}

// countIntact estimates how many records a damaged tail held: the damaged record itself
// plus every checksum-valid record found after it.
func countIntact(tail []byte) int {
	if len(tail) == 0 {
		return 0
	}
	return 1 + countValid(tail[1:])
}

// countValid counts the checksum-valid records in b, resynchronising byte by byte after
// anything that is not one.
func countValid(b []byte) int {
	count := 0
	for pos := 0; pos+recordPrefix+minBody <= len(b); {
		bodyLen := binary.LittleEndian.Uint32(b[pos:])
		if bodyLenOK(bodyLen, int64(len(b)-pos)) {
			n := recordPrefix + int(bodyLen)
			if _, err := decodeRecord(b[pos : pos+n]); err == nil {
				count++
				pos += n
				continue
			}
		}
		pos++
	}
	return count
}

// readTail reads [off, end) of f for quarantine and counting, bounded to keep memory sane.
func readTail(f io.ReaderAt, off, end int64) ([]byte, error) {
	const limit = 2 << 30
	if end-off > limit {
		return nil, errors.New("damaged tail too large to copy")
	}
	b := make([]byte, end-off)
	n, err := f.ReadAt(b, off)
	if err == io.EOF && int64(n) == end-off {
		err = nil
	}
	return b[:n], err
}
