package kvlog

import (
	"fmt"
	"strings"
	"time"
)

// Damage is one damaged segment: everything from Offset to the end of File was unreadable
// and is not part of the store. Open moves those bytes to MovedTo (under quarantine/);
// Verify only reports them.
type Damage struct {
	File        string // segment file name, relative to the store directory
	Offset      int64  // first byte not loaded
	Bytes       int64  // bytes from Offset to the end of the file
	RecordsLost int    // estimate: the damaged record plus any intact record found after it
	Reason      string
	MovedTo     string // quarantine path relative to the store directory ("" in Verify)
}

func (d Damage) String() string {
	s := fmt.Sprintf("%s at offset %d: %s (%d bytes, ~%d records lost)", d.File, d.Offset, d.Reason, d.Bytes, d.RecordsLost)
	if d.MovedTo != "" {
		s += ", moved to " + d.MovedTo
	}
	return s
}

// Report describes a store as found on disk. Verify returns it; Open returns it inside
// Recovery, after acting on it (quarantine, removals).
type Report struct {
	Segments    int   // segment files loaded
	Records     int64 // valid records read
	LiveKeys    int
	LiveBytes   int64 // bytes of the records holding the live keys
	TotalBytes  int64 // bytes of all loaded segments, headers included
	DeadRecords int64 // overwritten or deleted records and tombstones

	Damaged []Damage
	// TempFiles are unfinished compaction outputs (*.seg.tmp); Open removes them.
	TempFiles []string
	// ObsoleteFiles are segments replaced by a finished compaction whose removal was
	// interrupted; Open removes them and they are not loaded.
	ObsoleteFiles []string
	// PartialCompaction are outputs of a compaction interrupted before all its outputs
	// existed: their records duplicate the inputs, which are all still present, so they are
	// loaded as ordinary segments and the next compaction absorbs them.
	PartialCompaction []string
	// EmptySegments are log segments holding no record; Open removes them.
	EmptySegments []string
}

// Clean reports whether nothing was damaged.
func (r *Report) Clean() bool { return len(r.Damaged) == 0 }

// String is a multi-line human summary (the kvlogctl output).
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "segments: %d, records: %d (dead %d), live keys: %d, live bytes: %d, total bytes: %d\n",
		r.Segments, r.Records, r.DeadRecords, r.LiveKeys, r.LiveBytes, r.TotalBytes)
	for _, d := range r.Damaged {
		fmt.Fprintf(&b, "damaged: %s\n", d)
	}
	list := func(what string, files []string) {
		if len(files) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", what, strings.Join(files, ", "))
		}
	}
	list("unfinished compaction temp files", r.TempFiles)
	list("obsolete segments of a finished compaction", r.ObsoleteFiles)
	list("outputs of an interrupted compaction (kept)", r.PartialCompaction)
	list("empty segments", r.EmptySegments)
	if r.Clean() {
		b.WriteString("no damage\n")
	}
	return b.String()
}

// Recovery is what Open found and did.
type Recovery struct {
	Report
	Duration time.Duration // time to load the directory and build the index
}
