package pskfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tab, err := Parse("psk.txt", []byte("client1:1234\r\n# a comment\n\nclient2:ab:cd\nspace id: key \n"), ":")
	if err != nil {
		t.Fatal(err)
	}
	f := func(id, want string) {
		t.Helper()
		k, ok := tab.Lookup(id)
		if want == "" && ok || want != "" && (!ok || string(k) != want) {
			t.Fatalf("Lookup(%q) = %q %v, want %q", id, k, ok, want)
		}
	}
	f("client1", "1234")
	f("client2", "ab:cd") // only the first delimiter splits
	f("space id", " key ")
	f("client3", "")
	f("# a comment", "")
	if tab.Len() != 3 {
		t.Fatalf("Len = %d", tab.Len())
	}
	tab, err = Parse("psk.txt", []byte("a|b\n"), "|")
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := tab.Lookup("a"); string(k) != "b" {
		t.Fatalf("delimiter |: %q", k)
	}
}

func TestParseErrors(t *testing.T) {
	f := func(text, want string) {
		t.Helper()
		_, err := Parse("psk.txt", []byte(text), ":")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%q: err = %v, want %q", text, err, want)
		}
	}
	f("ok:1\nnodelimiter\n", `psk.txt:2: no ":" between identity and secret`)
	f(":secret\n", "psk.txt:1: empty identity")
	f("id:\n", `psk.txt:1: empty secret for identity "id"`)
	f("a:1\nb:2\na:3\n", `psk.txt:3: identity "a" already listed at line 1`)
	if _, err := Load(filepath.Join(t.TempDir(), "none.txt"), ":"); err == nil || !strings.Contains(err.Error(), "psk.file.path") {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "psk.txt")
	if err := os.WriteFile(p, []byte("client1:1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tab, err := Load(p, ":"); err != nil || tab.Len() != 1 {
		t.Fatalf("Load: %v", err)
	}
}
