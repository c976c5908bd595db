package codec

import (
	"bytes"
	"encoding/binary"
)

// maxTopicLen is the longest topic name or filter: the length prefix of an
// MQTT string is 16 bits [MQTT-4.7.3-3].
const maxTopicLen = 65535

// SharePrefix starts a shared subscription filter: $share/<group>/<filter>.
const SharePrefix = "$share/"

// ValidTopicName checks a topic name as PUBLISH and the will carry it: not
// empty [MQTT-4.7.3-1], valid UTF-8 without U+0000 [MQTT-1.5.4-1]
// [MQTT-1.5.4-2] [MQTT-4.7.3-2], no wildcard '+' or '#' [MQTT-3.3.2-2],
// at most 65535 bytes [MQTT-4.7.3-3]. An MQTT 5 PUBLISH that relies on a
// topic alias carries an empty name; Publish.Decode allows that case before
// calling this. It does not retain topic and is safe for concurrent use.
func ValidTopicName(topic []byte) error {
	if len(topic) == 0 {
		return ErrTopicEmpty
	}
	if len(topic) > maxTopicLen {
		return ErrTopicTooLong
	}
	if len(topic) < 8 {
		return topicNameTail(topic)
	}
	// Eight bytes at a time, OR-ing the flags of all words and branching
	// once: topics are nearly always plain ASCII. Any flagged byte sends the
	// whole name to the exact loop.
	var acc uint64
	i := 0
	for ; i+16 <= len(topic); i += 16 {
		acc |= topicSpecial(binary.LittleEndian.Uint64(topic[i:])) |
			topicSpecial(binary.LittleEndian.Uint64(topic[i+8:]))
	}
	if i+8 <= len(topic) {
		acc |= topicSpecial(binary.LittleEndian.Uint64(topic[i:]))
	}
	// The final eight bytes, overlapping bytes already checked.
	acc |= topicSpecial(binary.LittleEndian.Uint64(topic[len(topic)-8:]))
	if acc&hi8 != 0 {
		return topicNameTail(topic)
	}
	return nil
}

// topicSpecial returns a word whose high bits are set (in some byte) when
// one of the eight bytes of x is non-ASCII, 0x00, '+' (0x2B) or '#' (0x23),
// and clear when none is. '+' and '#' differ only in bit 3, so clearing
// that bit of x^0x23 makes both zero bytes, and one zero-byte test finds
// either.
func topicSpecial(x uint64) uint64 {
	y := (x ^ lo8*'#') &^ (lo8 * 0x08)
	return x | (x-lo8)&^x | (y-lo8)&^y
}

// topicNameTail is the exact check of a topic name suffix that starts on a
// character boundary.
func topicNameTail(rest []byte) error {
	for j, c := range rest {
		switch {
		case c == '+' || c == '#':
			return ErrTopicWildcard
		case c == 0 || c >= 0x80:
			if err := validUTF8Tail(rest[j:]); err != nil {
				return err
			}
			if bytes.IndexByte(rest[j:], '+') >= 0 || bytes.IndexByte(rest[j:], '#') >= 0 {
				return ErrTopicWildcard
			}
			return nil
		}
	}
	return nil
}

// ValidTopicFilter checks a topic filter as SUBSCRIBE and UNSUBSCRIBE carry
// it: not empty [MQTT-4.7.3-1], valid UTF-8 without U+0000 [MQTT-1.5.4-1]
// [MQTT-1.5.4-2], '#' only as a whole last level [MQTT-4.7.1-1], '+' only as
// a whole level [MQTT-4.7.1-2], at most 65535 bytes [MQTT-4.7.3-3]. A
// shared subscription "$share/<group>/<filter>" needs a non-empty group
// without '/', '+' or '#' and a valid non-empty filter [MQTT-4.8.2-1]
// [MQTT-4.8.2-2]. It does not retain filter and is safe for concurrent use.
func ValidTopicFilter(filter []byte) error {
	if len(filter) == 0 {
		return ErrFilterEmpty
	}
	if len(filter) > maxTopicLen {
		return ErrFilterTooLong
	}
	if group, f, ok := SplitShared(filter); ok {
		if len(group) == 0 || bytes.IndexByte(group, '+') >= 0 || bytes.IndexByte(group, '#') >= 0 {
			return ErrShareNameInvalid
		}
		if len(f) == 0 {
			return ErrShareFilterEmpty
		}
		filter = f
	}
	ascii := true
	for i, c := range filter {
		switch c {
		case '#':
			if i != len(filter)-1 {
				return ErrFilterHashLast
			}
			if i > 0 && filter[i-1] != '/' {
				return ErrFilterWildcard
			}
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i+1 < len(filter) && filter[i+1] != '/') {
				return ErrFilterWildcard
			}
		case 0:
			return ErrUTF8Null
		default:
			if c >= 0x80 {
				ascii = false
			}
		}
	}
	if !ascii {
		return validUTF8Tail(filter)
	}
	return nil
}

// SplitShared splits a shared subscription filter "$share/<group>/<filter>"
// into its group and filter, sub-slices of filter. ok is false when filter
// does not start with "$share/"; group or f may be empty when the filter is
// invalid (ValidTopicFilter reports that). A filter without a '/' after the
// group ("$share/g") returns the group and an empty f.
func SplitShared(filter []byte) (group, f []byte, ok bool) {
	if len(filter) < len(SharePrefix) || string(filter[:len(SharePrefix)]) != SharePrefix {
		return nil, nil, false
	}
	rest := filter[len(SharePrefix):]
	i := bytes.IndexByte(rest, '/')
	if i < 0 {
		return rest, nil, true
	}
	return rest[:i], rest[i+1:], true
}
