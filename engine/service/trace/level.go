package trace

import "fmt"

// Level is a trace's level in EMQX's (syslog's) names: a trace writes the lines of its level
// and above. Packets are debug lines, connections and published messages info, drops
// warning.
type Level uint8

// Levels, lowest first.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelNotice
	LevelWarning
	LevelError
	LevelCritical
	LevelAlert
	LevelEmergency
)

var levelNames = [...]string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// String returns the level's name ("debug").
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "invalid"
}

// ParseLevel reads a level name; "all" (EMQX's default when no level is given) is debug.
func ParseLevel(s string) (Level, error) {
	if s == "all" {
		return LevelDebug, nil
	}
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("invalid level %q (debug, info, notice, warning, error, critical, alert, emergency or all)", s)
}
