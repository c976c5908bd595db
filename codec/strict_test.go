package codec

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestStrictUTF8(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		if err := StrictUTF8([]byte(in)); err != want { //nolint:errorlint
			t.Errorf("StrictUTF8(%q) = %v, want %v", in, err, want)
		}
	}
	// Accepted: printable ASCII of every length around the word size, other characters.
	f("", nil)
	f("a", nil)
	f(" ~", nil) // 0x20 and 0x7E, the ends of printable ASCII
	f("abcd", nil)
	f("abcdefg", nil)
	f("abcdefgh", nil)
	f("sensors/building-1/floor-3/room-42/temperature", nil)
	f("\u00a0\u00e9\u65e5\U0001F600 mixed", nil) // U+00A0 is the first code point after C1
	f("\ufeffBOM is kept", nil)                  // [MQTT-1.5.4-3]
	f("\ufdcf\ufdf0\ufffd", nil)                 // next to the non-characters
	f("\U0010FFFD", nil)

	// What ValidUTF8String refuses, StrictUTF8 refuses the same way.
	f("\x00", ErrUTF8Null)
	f("abcdefghijklmno\x00", ErrUTF8Null)
	f("\xed\xbf\xbf", ErrUTF8Invalid) // surrogate U+DFFF
	f("\xc0\x80", ErrUTF8Invalid)     // overlong U+0000
	f("\xc1\xbf", ErrUTF8Invalid)     // overlong U+007F
	f("\xf4\x90\x80\x80", ErrUTF8Invalid)
	f("abc\xe6\x97", ErrUTF8Invalid)

	// C0 and C1 controls, at every position of a word and in short strings.
	f("\x01", ErrUTF8Control)
	f("a\x1f", ErrUTF8Control)
	f("abc\x7f", ErrUTF8Control)
	f("ab\tcdefgh", ErrUTF8Control)
	f("abcdefgh\n", ErrUTF8Control)
	f("abcdefghijklmnopq\x7fr", ErrUTF8Control)
	f("\u0080", ErrUTF8Control)
	f("abcdefgh\u009f", ErrUTF8Control)
	f("\u00e9\u0085", ErrUTF8Control) // NEL

	// The 66 non-characters.
	f("\ufdd0", ErrUTF8NonCharacter)
	f("abcdefgh\ufdef", ErrUTF8NonCharacter)
	f("\ufffe", ErrUTF8NonCharacter)
	f("\uffff", ErrUTF8NonCharacter)
	f("\U0001FFFE", ErrUTF8NonCharacter)
	f("x/\U0010FFFF", ErrUTF8NonCharacter)
}

// TestStrictUTF8Exhaustive checks every code point alone and after seven ASCII bytes
// (so that it ends a word) against the definition.
func TestStrictUTF8Exhaustive(t *testing.T) {
	nonchars, controls := 0, 0
	buf := make([]byte, 0, 16)
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates cannot be encoded; covered by the ill-formed cases
		}
		want := refStrict(r)
		switch want {
		case ErrUTF8NonCharacter:
			nonchars++
		case ErrUTF8Control:
			controls++
		}
		buf = utf8.AppendRune(buf[:0], r)
		if err := StrictUTF8(buf); err != want { //nolint:errorlint
			t.Fatalf("StrictUTF8(U+%04X) = %v, want %v", r, err, want)
		}
		buf = utf8.AppendRune(append(buf[:0], "abcdefg"...), r)
		if err := StrictUTF8(buf); err != want { //nolint:errorlint
			t.Fatalf("StrictUTF8(abcdefg U+%04X) = %v, want %v", r, err, want)
		}
	}
	if nonchars != 66 || controls != 31+33 {
		t.Fatalf("%d non-characters and %d controls refused, want 66 and 64", nonchars, controls)
	}
}

// refStrict is the definition, one code point at a time.
func refStrict(r rune) error {
	switch {
	case r == 0:
		return ErrUTF8Null
	case r <= 0x1F, r >= 0x7F && r <= 0x9F:
		return ErrUTF8Control
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFF == 0xFFFE, r&0xFFFF == 0xFFFF:
		return ErrUTF8NonCharacter
	}
	return nil
}

// FuzzStrictUTF8 checks the word-at-a-time path against the definition.
func FuzzStrictUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefgh\x7f", "a\x1fbcdefghij", "\u0085", "\ufdd0", "\U0010FFFF",
		"\xed\xa0\x80", "\u00e9t\u00e9 abcdefgh", "\xc0\x80", "abcdefghi\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		var want error // the first problem, in order
		for i := 0; want == nil && i < len(s); {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				want = ErrUTF8Invalid
			} else {
				want = refStrict(r)
			}
			i += n
		}
		if err := StrictUTF8(s); err != want { //nolint:errorlint
			t.Fatalf("StrictUTF8(%q) = %v, want %v", s, err, want)
		}
		if StrictUTF8(s) == nil && ValidUTF8String(s) != nil {
			t.Fatalf("StrictUTF8 accepts %q, which ValidUTF8String refuses", s)
		}
		if bytes.IndexByte(s, 0) >= 0 && StrictUTF8(s) == nil {
			t.Fatalf("StrictUTF8 accepts U+0000 in %q", s)
		}
	})
}

func TestAllocsStrictUTF8(t *testing.T) {
	mixed := []byte("capteurs/b\u00e2timent-1/\u00e9tage-3/\u65e5/temp\u00e9rature")
	var err error
	noAllocs(t, "strict utf8 ascii", func() { err = StrictUTF8(benchTopic) })
	if err != nil {
		t.Fatal(err)
	}
	noAllocs(t, "strict utf8 mixed", func() { err = StrictUTF8(mixed) })
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("abcdefgh\ufdd0")
	noAllocs(t, "strict utf8 refused", func() { err = StrictUTF8(bad) })
	if err != ErrUTF8NonCharacter { //nolint:errorlint
		t.Fatal(err)
	}
}
