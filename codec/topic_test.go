package codec

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidTopicName(t *testing.T) {
	f := func(topic string, want error) {
		t.Helper()
		if err := ValidTopicName([]byte(topic)); err != want { //nolint:errorlint
			t.Errorf("ValidTopicName(%q) = %v, want %v", topic, err, want)
		}
	}
	f("a", nil)
	f("/", nil)
	f("a/b/c/d/e/f/g/h/i/j", nil)
	f("$SYS/brokers", nil)
	f("sport/tennis/player1/ranking", nil)
	f("\u00e9t\u00e9/\U0001F600", nil)
	f("", ErrTopicEmpty)
	f("+", ErrTopicWildcard)
	f("a/#", ErrTopicWildcard)
	f("abcdefghijklmnop+", ErrTopicWildcard)
	f("abcdefgh#ijklmnop", ErrTopicWildcard)
	f("abcdefgh\x00", ErrUTF8Null)
	f("abcdefgh\xff", ErrUTF8Invalid)
	f("abcdefgh\u00e9+", ErrTopicWildcard)
	f("\xed\xa0\x80abcdefgh", ErrUTF8Invalid) // surrogate U+D800
	f(strings.Repeat("a", 65535), nil)
	f(strings.Repeat("a", 65536), ErrTopicTooLong)
}

func TestValidTopicFilter(t *testing.T) {
	f := func(filter string, want error) {
		t.Helper()
		if err := ValidTopicFilter([]byte(filter)); err != want { //nolint:errorlint
			t.Errorf("ValidTopicFilter(%q) = %v, want %v", filter, err, want)
		}
	}
	for _, ok := range []string{"#", "+", "/", "+/+", "/+", "+/", "a/#", "a/+/b", "+/+/#", "//", "$SYS/#",
		"$share/g/#", "$share/g/a/+", "$share/g//", "$queue/a", "\u00e9/+"} {
		f(ok, nil)
	}
	f("", ErrFilterEmpty)
	f("a/#/b", ErrFilterHashLast)
	f("##", ErrFilterHashLast)
	f("a#", ErrFilterWildcard)
	f("a/b#", ErrFilterWildcard)
	f("a+", ErrFilterWildcard)
	f("+a", ErrFilterWildcard)
	f("a/++", ErrFilterWildcard)
	f("$share/", ErrShareNameInvalid)
	f("$share//a", ErrShareNameInvalid)
	f("$share/#/a", ErrShareNameInvalid)
	f("$share/g+/a", ErrShareNameInvalid)
	f("$share/g", ErrShareFilterEmpty)
	f("$share/g/", ErrShareFilterEmpty)
	f("$share/g/a#", ErrFilterWildcard)
	f("a\x00", ErrUTF8Null)
	f("a/\xc0\xaf", ErrUTF8Invalid)
	f(strings.Repeat("a", 65536), ErrFilterTooLong)

	g, flt, ok := SplitShared([]byte("$share/grp/a/b"))
	if !ok || string(g) != "grp" || string(flt) != "a/b" {
		t.Fatalf("SplitShared = %q %q %v", g, flt, ok)
	}
	if _, _, ok := SplitShared([]byte("$shar/g/a")); ok {
		t.Fatal("SplitShared accepted $shar/")
	}
}

func TestValidUTF8String(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		if err := ValidUTF8String([]byte(in)); err != want { //nolint:errorlint
			t.Errorf("ValidUTF8String(%q) = %v, want %v", in, err, want)
		}
	}
	f("", nil)
	f("plain ascii text, longer than eight bytes", nil)
	f("\u00e9\u65e5\U0001F600 mixed", nil)
	f("\ufeffBOM is kept", nil) // [MQTT-1.5.4-3]
	f("abcdefghijklmno\x00", ErrUTF8Null)
	f("\x00", ErrUTF8Null)
	f("\xed\xbf\xbf", ErrUTF8Invalid) // U+DFFF
	f("\xc0\x80", ErrUTF8Invalid)     // overlong U+0000
	f("\xf4\x90\x80\x80", ErrUTF8Invalid)
	f("abc\xe6\x97", ErrUTF8Invalid) // truncated sequence
}

// FuzzValidUTF8String checks the fast path against the definition.
func FuzzValidUTF8String(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefghi\x00", "\xed\xa0\x80", "\u00e9t\u00e9 abcdefgh", "\xc0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		want := utf8.Valid(s) && bytes.IndexByte(s, 0) < 0
		if got := ValidUTF8String(s) == nil; got != want {
			t.Fatalf("ValidUTF8String(%q) ok=%v, want %v", s, got, want)
		}
		wantTopic := want && len(s) > 0 && !bytes.ContainsAny(s, "+#")
		if got := ValidTopicName(s) == nil; got != wantTopic {
			t.Fatalf("ValidTopicName(%q) ok=%v, want %v", s, got, wantTopic)
		}
		if got, want := ValidTopicFilter(s) == nil, refValidFilter(s); got != want {
			t.Fatalf("ValidTopicFilter(%q) ok=%v, want %v", s, got, want)
		}
	})
}

// refValidFilter is a slow, obviously correct filter check by levels.
func refValidFilter(f []byte) bool {
	if len(f) == 0 || !utf8.Valid(f) || bytes.IndexByte(f, 0) >= 0 {
		return false
	}
	if bytes.HasPrefix(f, []byte("$share/")) {
		parts := bytes.SplitN(f[len("$share/"):], []byte("/"), 2)
		if len(parts) < 2 || len(parts[0]) == 0 || bytes.ContainsAny(parts[0], "+#") || len(parts[1]) == 0 {
			return false
		}
		f = parts[1]
	}
	levels := bytes.Split(f, []byte("/"))
	for i, l := range levels {
		if bytes.ContainsAny(l, "+#") && len(l) != 1 {
			return false
		}
		if string(l) == "#" && i != len(levels)-1 {
			return false
		}
	}
	return true
}

func TestVarint(t *testing.T) {
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, 2097151, 2097152, MaxVarint} {
		enc := AppendVarint(nil, v)
		if len(enc) != VarintSize(v) {
			t.Fatalf("VarintSize(%d) = %d, encoded %d", v, VarintSize(v), len(enc))
		}
		got, n, err := DecodeVarint(enc)
		if err != nil || n != len(enc) || got != v {
			t.Fatalf("DecodeVarint(% x) = %d, %d, %v", enc, got, n, err)
		}
		for i := 0; i < len(enc); i++ {
			if _, n, err := DecodeVarint(enc[:i]); n != 0 || err != nil {
				t.Fatalf("DecodeVarint(prefix % x) = %d, %v", enc[:i], n, err)
			}
		}
	}
	// Examples from MQTT 5.0 section 1.5.5.
	mustEqualBytes(t, "321", AppendVarint(nil, 321), []byte{0xC1, 0x02})
	mustEqualBytes(t, "max", AppendVarint(nil, MaxVarint), []byte{0xFF, 0xFF, 0xFF, 0x7F})
	if _, _, err := DecodeVarint([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x7F}); err != ErrVarintTooLong { //nolint:errorlint
		t.Fatal(err)
	}
	if _, _, err := DecodeVarint([]byte{0x80, 0x80, 0x00}); err != ErrVarintNotMinimal { //nolint:errorlint
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AppendVarint(MaxVarint+1) did not panic")
		}
	}()
	AppendVarint(nil, MaxVarint+1)
}
