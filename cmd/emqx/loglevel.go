package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logLevelNames are EMQX's log levels, lowest first.
var logLevelNames = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

func validLogLevel(l string) bool {
	for _, n := range logLevelNames {
		if n == l {
			return true
		}
	}
	return false
}

// logLevels holds the runtime log levels that `emqx_ctl log` reads and changes, as Erlang's
// logger has them: a line is written by a handler when its level is at or above both the
// primary level and that handler's level. Safe for concurrent use: the levels are
// slog.LevelVars (atomic) read by every log call; the names beside them are guarded by mu.
type logLevels struct {
	primary     slog.LevelVar
	mu          sync.Mutex
	primaryName string
	handlers    []*logHandler
}

// logHandler is one destination of the log with its own level.
type logHandler struct {
	id, dest string
	level    slog.LevelVar
	name     string // guarded by logLevels.mu
	stopped  bool   // guarded by logLevels.mu: writes nothing (level is levelOff) until started
}

// levelOff is a level no record reaches: a stopped handler's.
const levelOff = slog.Level(1 << 30)

// apply sets h's effective level from its name and state. Hold logLevels.mu.
func (h *logHandler) apply() {
	if h.stopped {
		h.level.Set(levelOff)
		return
	}
	h.level.Set(slogLevel(h.name))
}

func newLogLevels(primary string) *logLevels {
	ls := &logLevels{primaryName: primary}
	ls.primary.Set(slogLevel(primary))
	return ls
}

// add registers a handler at level and returns the LevelVar its slog handler must use.
func (ls *logLevels) add(id, dest, level string) *slog.LevelVar {
	h := &logHandler{id: id, dest: dest, name: level}
	h.level.Set(slogLevel(level))
	ls.handlers = append(ls.handlers, h)
	return &h.level
}

func (ls *logLevels) setPrimary(level string) {
	ls.mu.Lock()
	ls.primaryName = level
	ls.primary.Set(slogLevel(level))
	ls.mu.Unlock()
}

func (ls *logLevels) primaryLevel() string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.primaryName
}

// setAll sets the primary level and every handler's (EMQX's `log set-level`).
func (ls *logLevels) setAll(level string) {
	ls.setPrimary(level)
	ls.mu.Lock()
	for _, h := range ls.handlers {
		h.name = level
		h.apply()
	}
	ls.mu.Unlock()
}

func (ls *logLevels) setHandler(id, level string) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, h := range ls.handlers {
		if h.id == id {
			h.name = level
			h.apply()
			return true
		}
	}
	return false
}

// setStopped stops (no line written, its level kept for a start) or starts the handler id
// (EMQX 4's `log handlers stop|start`); false when there is no such handler.
func (ls *logLevels) setStopped(id string, stopped bool) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, h := range ls.handlers {
		if h.id == id {
			h.stopped = stopped
			h.apply()
			return true
		}
	}
	return false
}

func (ls *logLevels) list() string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var b strings.Builder
	for _, h := range ls.handlers {
		status := "started"
		if h.stopped {
			status = "stopped"
		}
		fmt.Fprintf(&b, "LogHandler(id=%s, level=%s, destination=%s, status=%s)\n", h.id, h.name, h.dest, status)
	}
	return b.String()
}

// primaryFilter drops records below the primary level before any handler sees them.
type primaryFilter struct {
	level *slog.LevelVar
	next  slog.Handler
}

func (p primaryFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= p.level.Level() && p.next.Enabled(ctx, l)
}

func (p primaryFilter) Handle(ctx context.Context, r slog.Record) error { return p.next.Handle(ctx, r) }

func (p primaryFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return primaryFilter{p.level, p.next.WithAttrs(as)}
}

func (p primaryFilter) WithGroup(name string) slog.Handler {
	return primaryFilter{p.level, p.next.WithGroup(name)}
}

// logCommand is `emqx_ctl log`, with EMQX 3.2's answers.
func logCommand(ls *logLevels, args []string) (string, int) {
	bad := func(l string) (string, int) {
		return fmt.Sprintf("[error] bad log level %q: one of %s\n", l, strings.Join(logLevelNames, ", ")), 1
	}
	switch {
	case len(args) == 2 && args[0] == "set-level":
		if !validLogLevel(args[1]) {
			return bad(args[1])
		}
		ls.setAll(args[1])
		return args[1] + "\n", 0
	case len(args) == 1 && args[0] == "primary-level":
		return ls.primaryLevel() + "\n", 0
	case len(args) == 2 && args[0] == "primary-level":
		if !validLogLevel(args[1]) {
			return bad(args[1])
		}
		ls.setPrimary(args[1])
		return ls.primaryLevel() + "\n", 0
	case len(args) == 2 && args[0] == "handlers" && args[1] == "list":
		return ls.list(), 0
	case len(args) == 4 && args[0] == "handlers" && args[1] == "set-level":
		if !validLogLevel(args[3]) {
			return bad(args[3])
		}
		if !ls.setHandler(args[2], args[3]) {
			return fmt.Sprintf("[error] no log handler %q (see log handlers list)\n", args[2]), 1
		}
		return args[3] + "\n", 0
	case len(args) == 3 && args[0] == "handlers" && (args[1] == "start" || args[1] == "stop"):
		stop := args[1] == "stop"
		if !ls.setStopped(args[2], stop) {
			return fmt.Sprintf("[error] failed to %s log handler %s: no such handler (see log handlers list)\n", args[1], args[2]), 1
		}
		if stop {
			return "log handler " + args[2] + " stopped\n", 0
		}
		return "log handler " + args[2] + " started\n", 0
	}
	return usage("log"), 1
}
