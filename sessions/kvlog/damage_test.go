package kvlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const damageRecords = 40

var damageRecSize = int64(recordSize(len("k000"), 32))

// buildStore writes damageRecords records k000..k039 into one segment and returns its path.
func buildStore(t *testing.T, dir string) string {
	t.Helper()
	l, _ := openT(t, dir, Options{Fsync: FsyncAlways})
	for i := 0; i < damageRecords; i++ {
		if err := l.Put(fmt.Appendf(nil, "k%03d", i), bytes.Repeat([]byte{byte('a' + i%26)}, 32)); err != nil {
			t.Fatal(err)
		}
	}
	syncT(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	return segs[0]
}

func recOff(i int) int64 { return headerSize + int64(i)*damageRecSize }

// openDamaged opens dir, checks the recovered keys are exactly k000..k(keep-1) and returns
// the recovery; a second Open must then be clean.
func openDamaged(t *testing.T, dir string, keep int) Recovery {
	t.Helper()
	l, rec := openT(t, dir, Options{})
	got := replayMap(t, l)
	l.Close()
	if len(got) != keep {
		t.Errorf("recovered %d keys, want %d", len(got), keep)
	}
	for i := 0; i < keep; i++ {
		if _, ok := got[fmt.Sprintf("k%03d", i)]; !ok {
			t.Errorf("k%03d lost", i)
		}
	}
	l, rec2 := openT(t, dir, Options{})
	l.Close()
	if !rec2.Clean() {
		t.Errorf("second open still finds damage: %v", rec2.Damaged)
	}
	return rec
}

func oneDamage(t *testing.T, rec Recovery, file string, off int64, lost int) Damage {
	t.Helper()
	if len(rec.Damaged) != 1 {
		t.Fatalf("damage reports: %+v", rec.Damaged)
	}
	d := rec.Damaged[0]
	if d.File != file || d.Offset != off || d.RecordsLost != lost {
		t.Fatalf("damage %+v, want file %s offset %d lost %d", d, file, off, lost)
	}
	return d
}

func checkQuarantine(t *testing.T, dir string, d Damage, want []byte) {
	t.Helper()
	if d.MovedTo == "" {
		t.Fatal("damaged bytes not quarantined")
	}
	got, err := os.ReadFile(filepath.Join(dir, d.MovedTo))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("quarantined %d bytes, want %d", len(got), len(want))
	}
}

func TestDamageTruncated(t *testing.T) {
	dir := t.TempDir()
	seg := buildStore(t, dir)
	orig, _ := os.ReadFile(seg)
	cut := recOff(30) + 10 // in the middle of record 30
	os.Truncate(seg, cut)
	if rep, err := Verify(dir); err != nil || len(rep.Damaged) != 1 || rep.LiveKeys != 30 {
		t.Fatalf("Verify: %v %+v", err, rep)
	}
	if after, _ := os.ReadFile(seg); int64(len(after)) != cut {
		t.Fatal("Verify modified the segment")
	}
	rec := openDamaged(t, dir, 30)
	d := oneDamage(t, rec, filepath.Base(seg), recOff(30), 1)
	checkQuarantine(t, dir, d, orig[recOff(30):cut])
}

func TestDamageBitFlip(t *testing.T) {
	dir := t.TempDir()
	seg := buildStore(t, dir)
	b, _ := os.ReadFile(seg)
	orig := bytes.Clone(b)
	b[recOff(12)+20] ^= 0x10 // in the value of record 12
	os.WriteFile(seg, b, 0o644)
	rec := openDamaged(t, dir, 12)
	d := oneDamage(t, rec, filepath.Base(seg), recOff(12), damageRecords-12)
	if d.Reason == "" {
		t.Fatal("no reason")
	}
	checkQuarantine(t, dir, d, b[recOff(12):])
	if len(orig) != len(b) {
		t.Fatal("size changed")
	}
}

func TestDamageLengthField(t *testing.T) {
	dir := t.TempDir()
	seg := buildStore(t, dir)
	b, _ := os.ReadFile(seg)
	b[recOff(5)+3] = 0x7f // length becomes huge
	os.WriteFile(seg, b, 0o644)
	rec := openDamaged(t, dir, 5)
	oneDamage(t, rec, filepath.Base(seg), recOff(5), damageRecords-5)
}

func TestDamageGarbageAppended(t *testing.T) {
	for _, garbage := range [][]byte{
		bytes.Repeat([]byte{0}, 4096), // zero-filled tail (file size grew, data did not land)
		[]byte("some garbage that is not a record at all, no no"),
		{1, 2, 3},
	} {
		dir := t.TempDir()
		seg := buildStore(t, dir)
		f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
		f.Write(garbage)
		f.Close()
		rec := openDamaged(t, dir, damageRecords)
		d := oneDamage(t, rec, filepath.Base(seg), recOff(damageRecords), 1)
		checkQuarantine(t, dir, d, garbage)
	}
}

func TestDamageHeader(t *testing.T) {
	t.Run("half-written new segment", func(t *testing.T) {
		dir := t.TempDir()
		buildStore(t, dir)
		var hb [headerSize]byte
		name := segName{100, 0}
		(&header{kind: kindLog, name: name}).encode(hb[:])
		os.WriteFile(filepath.Join(dir, name.String()), hb[:20], 0o644)
		rec := openDamaged(t, dir, damageRecords)
		d := oneDamage(t, rec, name.String(), 0, 0)
		checkQuarantine(t, dir, d, hb[:20])
	})
	t.Run("corrupt header of a full segment", func(t *testing.T) {
		dir := t.TempDir()
		seg := buildStore(t, dir)
		b, _ := os.ReadFile(seg)
		b[13] ^= 1
		os.WriteFile(seg, b, 0o644)
		rec := openDamaged(t, dir, 0)
		d := oneDamage(t, rec, filepath.Base(seg), 0, damageRecords)
		checkQuarantine(t, dir, d, b)
	})
}

func TestStrayTempFile(t *testing.T) {
	dir := t.TempDir()
	buildStore(t, dir)
	tmp := segName{1, 1}.temp()
	os.WriteFile(filepath.Join(dir, tmp), []byte("half a compaction output"), 0o644)
	os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("left alone"), 0o644)
	rec := openDamaged(t, dir, damageRecords)
	if !rec.Clean() || len(rec.TempFiles) != 1 || rec.TempFiles[0] != tmp {
		t.Fatalf("recovery %+v", rec)
	}
	if _, err := os.Stat(filepath.Join(dir, tmp)); !os.IsNotExist(err) {
		t.Fatal("temp file not removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "unrelated.txt")); err != nil {
		t.Fatal("unrelated file touched")
	}
}

// TestDamageMiddleSegment damages a sealed segment followed by newer ones: the newer
// segments still load.
func TestDamageMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	seg := buildStore(t, dir)
	l, _ := openT(t, dir, Options{})
	l.Put([]byte("later"), []byte("v"))
	l.Close()
	b, _ := os.ReadFile(seg)
	b[recOff(39)+9] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	l, rec := openT(t, dir, Options{})
	defer l.Close()
	got := replayMap(t, l)
	if _, ok := got["later"]; !ok || len(got) != damageRecords {
		t.Fatalf("got %d keys (later present: %v)", len(got), ok)
	}
	oneDamage(t, rec, filepath.Base(seg), recOff(39), 1)
}
