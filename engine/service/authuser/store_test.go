package authuser

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/emqgo/emqgo/engine/passhash"
)

// TestStoreRoundTrip: entries survive a reopen, each with its own hash type.
func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	md5, _ := passhash.Parse("md5")
	pb, _ := passhash.Parse("pbkdf2,sha512,100,32")
	if err := s.Add("a", []byte("pa"), md5); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("b", []byte("pb"), pb); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string]string{"a": "pa", "b": "pb"} {
		if found, err := s2.Check(name, []byte(pw)); !found || err != nil {
			t.Errorf("%s after reopen: found %v, %v", name, found, err)
		}
		if _, err := s2.Check(name, []byte("x")); !errors.Is(err, passhash.ErrMismatch) {
			t.Errorf("%s wrong password: %v", name, err)
		}
	}
	if found, _ := s2.Check("c", nil); found {
		t.Error("c found")
	}
}

// TestStoreWriteFailureKeepsTable: a change that cannot be made durable is refused and not
// applied.
func TestStoreWriteFailureKeepsTable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "sub")
	s, err := OpenStore(filepath.Join(blocker, "users.json")) // missing: empty
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(blocker, nil, 0o644) // now its directory is a file
	if err := s.Add("a", []byte("p"), passhash.Spec{Algo: passhash.SHA256}); err == nil {
		t.Fatal("Add succeeded although the file cannot be written")
	}
	if len(s.Names()) != 0 {
		t.Errorf("table changed by a refused write: %v", s.Names())
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{not json"), 0o600)
	if _, err := OpenStore(filepath.Join(dir, "bad.json")); err == nil {
		t.Error("a damaged store opened")
	}
}
