package kvlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk constants. The layout is described in doc.go; changing any of these changes the
// format and needs a new formatVersion.
const (
	headerSize    = 48
	formatVersion = 1

	kindLog       = 1 // segment written by the appender
	kindCompacted = 2 // segment written by compaction

	recordPrefix = 8 // u32 body length + u32 CRC
	// minBody is the smallest valid body: type, sequence number and a one-byte key length.
	minBody = 1 + 8 + 1

	recPut    = 1
	recDelete = 2

	// MaxKeySize and MaxValueSize bound one record so that offsets stay within 32 bits and
	// a damaged length field can never make a reader allocate gigabytes.
	MaxKeySize   = 64 << 10
	MaxValueSize = 256 << 20
	maxBody      = 1 + 8 + 3 + MaxKeySize + MaxValueSize

	segSuffix  = ".seg"
	tempSuffix = ".seg.tmp"
	quarantine = "quarantine"
	lockName   = "LOCK"
	probeName  = "probe.tmp"
)

var (
	magic     = [8]byte{'E', 'M', 'Q', 'K', 'V', 'L', 'O', 'G'}
	castagoli = crc32.MakeTable(crc32.Castagnoli)
)

// segName orders segments: log order is (major, minor) order. Appended segments have minor 0
// and an increasing major; compaction outputs keep the major of the last segment they replace
// and take the minors after it, so they sort after their inputs and before anything newer.
type segName struct {
	major uint64
	minor uint32
}

func (n segName) less(o segName) bool {
	if n.major != o.major {
		return n.major < o.major
	}
	return n.minor < o.minor
}

func (n segName) String() string { return fmt.Sprintf("%016x-%08x%s", n.major, n.minor, segSuffix) }

func (n segName) temp() string { return fmt.Sprintf("%016x-%08x%s", n.major, n.minor, tempSuffix) }

// parseSegName parses "MMMMMMMMMMMMMMMM-mmmmmmmm" followed by suffix.
func parseSegName(file, suffix string) (segName, bool) {
	base, ok := strings.CutSuffix(file, suffix)
	if !ok || len(base) != 16+1+8 || base[16] != '-' {
		return segName{}, false
	}
	major, err1 := strconv.ParseUint(base[:16], 16, 64)
	minor, err2 := strconv.ParseUint(base[17:], 16, 32)
	if err1 != nil || err2 != nil {
		return segName{}, false
	}
	return segName{major: major, minor: uint32(minor)}, true
}

// header is the fixed 48-byte segment header.
type header struct {
	kind  uint16
	name  segName
	cover segName // compacted: the last segment (in log order) this compaction replaces
	part  uint32  // compacted: index of this output among the outputs of its compaction
	parts uint32  // compacted: number of outputs of its compaction
}

func (h *header) encode(b []byte) {
	_ = b[headerSize-1]
	copy(b[0:8], magic[:])
	binary.LittleEndian.PutUint16(b[8:], formatVersion)
	binary.LittleEndian.PutUint16(b[10:], h.kind)
	binary.LittleEndian.PutUint64(b[12:], h.name.major)
	binary.LittleEndian.PutUint32(b[20:], h.name.minor)
	binary.LittleEndian.PutUint64(b[24:], h.cover.major)
	binary.LittleEndian.PutUint32(b[32:], h.cover.minor)
	binary.LittleEndian.PutUint32(b[36:], h.part)
	binary.LittleEndian.PutUint32(b[40:], h.parts)
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], castagoli))
}

func decodeHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, fmt.Errorf("short header (%d of %d bytes)", len(b), headerSize)
	}
	if [8]byte(b[0:8]) != magic {
		return header{}, fmt.Errorf("bad magic %q", b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[44:]), crc32.Checksum(b[:44], castagoli); got != want {
		return header{}, fmt.Errorf("header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != formatVersion {
		return header{}, fmt.Errorf("unsupported format version %d", v)
	}
	h := header{
		kind:  binary.LittleEndian.Uint16(b[10:]),
		name:  segName{binary.LittleEndian.Uint64(b[12:]), binary.LittleEndian.Uint32(b[20:])},
		cover: segName{binary.LittleEndian.Uint64(b[24:]), binary.LittleEndian.Uint32(b[32:])},
		part:  binary.LittleEndian.Uint32(b[36:]),
		parts: binary.LittleEndian.Uint32(b[40:]),
	}
	switch h.kind {
	case kindLog:
	case kindCompacted:
		if h.parts == 0 || h.part >= h.parts {
			return header{}, fmt.Errorf("bad compaction part %d of %d", h.part, h.parts)
		}
	default:
		return header{}, fmt.Errorf("unknown segment kind %d", h.kind)
	}
	return h, nil
}

// recordSize is the encoded size of a record.
func recordSize(keyLen, valueLen int) int {
	return recordPrefix + 1 + 8 + uvarintLen(uint64(keyLen)) + keyLen + valueLen
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendRecord appends a record with its checksum left at zero: the writer goroutine fills
// checksums (sealRecords) so that Put's critical section is a copy.
func appendRecord(dst []byte, kind byte, seq uint64, key, value []byte) []byte {
	body := 1 + 8 + uvarintLen(uint64(len(key))) + len(key) + len(value)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(body))
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, value...)
}

// recordCRC is the checksum of a record: the length field and the body.
func recordCRC(rec []byte) uint32 {
	c := crc32.Update(0, castagoli, rec[0:4])
	return crc32.Update(c, castagoli, rec[recordPrefix:])
}

// sealRecords fills the checksum of every record in buf, a concatenation of whole records.
func sealRecords(buf []byte) {
	for len(buf) > 0 {
		n := recordPrefix + int(binary.LittleEndian.Uint32(buf))
		binary.LittleEndian.PutUint32(buf[4:], recordCRC(buf[:n]))
		buf = buf[n:]
	}
}

// record is a decoded record. Its slices alias the buffer it was decoded from.
type record struct {
	kind  byte
	seq   uint64
	key   []byte
	value []byte
	raw   []byte // the whole encoded record
}

// decodeBody checks rec (a whole record: prefix and body) and decodes it.
func decodeRecord(rec []byte) (record, error) {
	if got, want := binary.LittleEndian.Uint32(rec[4:]), recordCRC(rec); got != want {
		return record{}, errChecksum
	}
	body := rec[recordPrefix:]
	r := record{kind: body[0], seq: binary.LittleEndian.Uint64(body[1:9]), raw: rec}
	if r.kind != recPut && r.kind != recDelete {
		return record{}, fmt.Errorf("unknown record type %d", r.kind)
	}
	klen, n := binary.Uvarint(body[9:])
	if n <= 0 || klen > MaxKeySize || uint64(len(body)-9-n) < klen {
		return record{}, fmt.Errorf("bad key length")
	}
	r.key = body[9+n : 9+n+int(klen)]
	r.value = body[9+n+int(klen):]
	if r.kind == recDelete && len(r.value) != 0 {
		return record{}, fmt.Errorf("delete record with a value")
	}
	return r, nil
}

// bodyLenOK reports whether a body length read from disk is plausible given what remains.
func bodyLenOK(n uint32, remaining int64) bool {
	return n >= minBody && n <= maxBody && int64(n)+recordPrefix <= remaining
}
