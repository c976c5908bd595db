package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// Word-at-a-time constants: lo has 0x01 in every byte, hi 0x80.
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// zeroBytes returns a non-zero word if some byte of x is 0x00. The exact
// bits may flag neighbours of a real zero byte, never a word without one.
func zeroBytes(x uint64) uint64 { return (x - lo8) &^ x & hi8 }

// ValidUTF8String checks s against the rules for an MQTT UTF-8 Encoded
// String: well-formed UTF-8 without surrogates or overlong forms
// [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]. The length limit (65535) is
// the framing's business. Pure ASCII is checked eight bytes at a time.
// It does not retain s and is safe for concurrent use.
func ValidUTF8String(s []byte) error {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if (x|zeroBytes(x))&hi8 != 0 {
			break
		}
	}
	return validUTF8Tail(s[i:])
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
