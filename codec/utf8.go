package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// Word-at-a-time constants: lo8 has 0x01 in every byte, hi8 0x80. For a
// word x, (x-lo8)&^x&hi8 is non-zero exactly when some byte of x is 0x00
// (borrows may flag bytes next to a zero byte, never a word without one).
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// ValidUTF8String checks s against the rules for an MQTT UTF-8 Encoded
// String: well-formed UTF-8 without surrogates or overlong forms
// [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]. The length limit (65535) is
// the framing's business. Pure ASCII is checked eight bytes at a time.
// It does not retain s and is safe for concurrent use.
func ValidUTF8String(s []byte) error {
	if asciiSpecial(s)&hi8 != 0 {
		return validUTF8Tail(s)
	}
	return nil
}

// asciiSpecial returns a word with a high bit set (in some byte) when s may
// hold a non-ASCII byte or 0x00, and none when it holds neither. Words are
// OR-ed together and tested once, since strings are nearly always ASCII;
// lengths that are not a multiple of the word size overlap the last word
// (or, below eight bytes, two half words) with bytes already seen.
func asciiSpecial(s []byte) uint64 {
	n := len(s)
	if n < 8 {
		if n < 4 {
			var acc uint64
			for _, c := range s {
				acc |= uint64(c) | (uint64(c)-1)&^uint64(c)
			}
			return acc
		}
		x := uint64(binary.LittleEndian.Uint32(s)) | uint64(binary.LittleEndian.Uint32(s[n-4:]))<<32
		return x | (x-lo8)&^x
	}
	var acc uint64
	i := 0
	for ; i+16 <= n; i += 16 {
		x := binary.LittleEndian.Uint64(s[i:])
		y := binary.LittleEndian.Uint64(s[i+8:])
		acc |= x | (x-lo8)&^x | y | (y-lo8)&^y
	}
	if i+8 <= n {
		x := binary.LittleEndian.Uint64(s[i:])
		acc |= x | (x-lo8)&^x
	}
	x := binary.LittleEndian.Uint64(s[n-8:])
	return acc | x | (x-lo8)&^x
}

// validUTF8Tail is the byte-at-a-time path, exact for any input.
func validUTF8Tail(s []byte) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return ErrUTF8Null
			}
			i++
			continue
		}
		// utf8.DecodeRune rejects surrogates (U+D800-U+DFFF), overlong forms
		// and values above U+10FFFF, reporting them as a 1-byte RuneError.
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return ErrUTF8Invalid
		}
		i += n
	}
	return nil
}

// StrictUTF8 checks s as ValidUTF8String does and also refuses the code points a UTF-8
// Encoded String "SHOULD NOT" contain (MQTT 3.1.1 section 1.5.3, MQTT 5.0 section 1.5.4;
// these paragraphs carry no conformance number): the control characters U+0001..U+001F and
// U+007F..U+009F (ErrUTF8Control) and the 66 Unicode non-characters U+FDD0..U+FDEF and the
// last two code points of every plane, U+xFFFE and U+xFFFF (ErrUTF8NonCharacter). A
// receiver may treat such a string as malformed; the broker does so for the strings a
// client sends when its zone has strict_mode on, as EMQX does.
// Printable ASCII is checked eight bytes at a time; it allocates nothing, does not retain
// s and is safe for concurrent use.
func StrictUTF8(s []byte) error {
	if notPrintable(s)&hi8 != 0 {
		return strictUTF8Tail(s)
	}
	return nil
}

// below20 has 0x20 in every byte: for a word x, (x-below20)&^x&hi8 is non-zero exactly when
// some byte of x is below 0x20 (Hacker's Delight's "has less than"; borrows only ever start
// at such a byte).
const below20 = 0x2020202020202020

// notPrintable returns a word with a high bit set (in some byte) when s holds a byte outside
// printable ASCII 0x20..0x7E, and none when it does not. Per word, x+lo8 carries into a high
// bit exactly for the byte 0x7F when no byte has its own high bit set (which x itself
// reports), and (x-below20)&^x flags the bytes below 0x20. Short tails overlap as in
// asciiSpecial.
func notPrintable(s []byte) uint64 {
	n := len(s)
	if n < 8 {
		if n < 4 {
			var acc uint64
			for _, c := range s {
				if c < 0x20 || c > 0x7E {
					acc = hi8
				}
			}
			return acc
		}
		x := uint64(binary.LittleEndian.Uint32(s)) | uint64(binary.LittleEndian.Uint32(s[n-4:]))<<32
		return x | (x + lo8) | (x-below20)&^x
	}
	var acc uint64
	i := 0
	for ; i+16 <= n; i += 16 {
		x := binary.LittleEndian.Uint64(s[i:])
		y := binary.LittleEndian.Uint64(s[i+8:])
		acc |= x | (x + lo8) | (x-below20)&^x | y | (y + lo8) | (y-below20)&^y
	}
	if i+8 <= n {
		x := binary.LittleEndian.Uint64(s[i:])
		acc |= x | (x + lo8) | (x-below20)&^x
	}
	x := binary.LittleEndian.Uint64(s[n-8:])
	return acc | x | (x + lo8) | (x-below20)&^x
}

// strictUTF8Tail is StrictUTF8's rune-at-a-time path, exact for any input.
func strictUTF8Tail(s []byte) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				return ErrUTF8Null
			case c < 0x20 || c == 0x7F:
				return ErrUTF8Control
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return ErrUTF8Invalid
		case r <= 0x9F: // U+0080..U+009F: two bytes, C2 80..C2 9F
			return ErrUTF8Control
		case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
			return ErrUTF8NonCharacter
		}
		i += n
	}
	return nil
}
