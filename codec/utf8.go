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
