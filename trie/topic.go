package trie

import "strings"

// levels holds the level boundaries of one topic without allocating: level i
// is topic[start(i):end[i]]. It is meant to live on the caller's stack.
type levels struct {
	n   int
	end [MaxLevels]int32
}

// split records the level boundaries of topic. It reports false when the
// topic has more than MaxLevels levels; an empty topic has one empty level.
func (l *levels) split(topic []byte) bool {
	n := 0
	for i, c := range topic {
		if c == '/' {
			if n == MaxLevels-1 {
				return false
			}
			l.end[n] = int32(i)
			n++
		}
	}
	l.end[n] = int32(len(topic))
	l.n = n + 1
	return true
}

func (l *levels) start(i int) int32 {
	if i == 0 {
		return 0
	}
	return l.end[i-1] + 1
}

// filterLevels splits a filter into its levels on the caller's stack.
type filterLevels struct {
	n   int
	lvl [MaxLevels]string
}

// split fills f with the levels of filter and validates wildcard placement.
func (f *filterLevels) split(filter string) bool {
	if filter == "" {
		return false
	}
	f.n = 0
	rest := filter
	for {
		if f.n == MaxLevels {
			return false
		}
		i := strings.IndexByte(rest, '/')
		lvl := rest
		if i >= 0 {
			lvl = rest[:i]
		}
		if len(lvl) > 1 && strings.ContainsAny(lvl, "+#") {
			return false // a wildcard must be a whole level [MQTT-4.7.1-2] [MQTT-4.7.1-3]
		}
		if lvl == "#" && i >= 0 {
			return false // '#' must be the last level [MQTT-4.7.1-2]
		}
		f.lvl[f.n] = lvl
		f.n++
		if i < 0 {
			return true
		}
		rest = rest[i+1:]
	}
}

// parseShare splits "$share/<group>/<filter>" and "$queue/<filter>" into the
// group name and the plain filter. Ordinary filters return group == "".
// EMQX treats "$queue/f" as the shared group named "$queue".
func parseShare(filter string) (group, plain string, ok bool) {
	switch {
	case strings.HasPrefix(filter, "$share/"):
		rest := filter[len("$share/"):]
		i := strings.IndexByte(rest, '/')
		if i <= 0 || i == len(rest)-1 {
			return "", "", false // [MQTT-4.8.2-1] a share name and a filter are required
		}
		group = rest[:i]
		if strings.ContainsAny(group, "+#") {
			return "", "", false // [MQTT-4.8.2-2]
		}
		return group, rest[i+1:], true
	case strings.HasPrefix(filter, "$queue/"):
		if len(filter) == len("$queue/") {
			return "", "", false
		}
		return "$queue", filter[len("$queue/"):], true
	case filter == "$share" || filter == "$queue":
		return "", "", false
	}
	return "", filter, true
}

// ValidFilter reports whether filter (optionally with a $share/ or $queue/
// prefix) would be accepted by Index.Subscribe. It does not allocate.
func ValidFilter(filter string) bool {
	_, plain, ok := parseShare(filter)
	if !ok {
		return false
	}
	var f filterLevels
	return f.split(plain)
}

// validTopic reports whether topic is a non-empty topic name without
// wildcards and with at most MaxLevels levels.
func validTopic(topic string) bool {
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return false
	}
	return strings.Count(topic, "/") < MaxLevels
}
