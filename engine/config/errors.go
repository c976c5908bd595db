package config

import (
	"fmt"
	"strings"
)

// Error is one problem found while loading: a syntax error, an unknown or duplicate key, a bad
// value or an inconsistency between keys. It names where the value came from: File and Line
// for a file, Env for an environment variable.
type Error struct {
	File string // file name as given to Parse, or "" for an environment variable
	Line int    // 1-based line in File; 0 when unknown
	Env  string // environment variable name, or ""
	Key  string // the key, when known
	Msg  string // what is wrong and what was expected
}

// Error formats the error as "file:line: key: message" or "env NAME: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		b.WriteString("environment variable ")
		b.WriteString(e.Env)
		b.WriteString(": ")
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every error found in one load, in file order, then environment order.
// It is what Load and Parse return on failure; errors.As(err, &list) recovers it.
type ErrorList []*Error

// Error joins the messages, one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Notice is a message for the operator; this package does not log, the caller does. It is
// either a key that is accepted but has no effect (Owner is set: the caller lists these on one
// warning line, see NoEffectSummary), or an EMQX_ environment variable that is not a config
// key and was ignored (to log at info level).
type Notice struct {
	File  string // file name, or "" for an environment variable
	Line  int    // 1-based line in File, or 0
	Env   string // environment variable name, or ""
	Key   string // the key concerned, or ""
	Msg   string
	Owner string // for a key without effect: why (Spec.Owner); "" for other notices
}

// String formats the notice like an Error.
func (n Notice) String() string {
	e := Error{File: n.File, Line: n.Line, Env: n.Env, Key: n.Key, Msg: n.Msg}
	return e.Error()
}
