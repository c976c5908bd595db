package config

import (
	"strings"
)

// Entry is one "key = value" line of a cuttlefish-style file.
type Entry struct {
	Key   string // as written, already checked to be dot-separated lower-case words
	Value string // trimmed, with one pair of surrounding quotes removed
	Line  int    // 1-based
}

// Lex splits a cuttlefish-style file into entries. Blank lines and lines starting with '#'
// are skipped; there are no trailing comments, since '#' is common in topic filters. A value
// runs to the end of the line and may itself contain '='. Lex reports every malformed line and
// returns the entries of the good ones. name is used in error messages only.
//
// Lex does not know the schema: plugin config loaders may use it for their own files.
func Lex(name string, data []byte) ([]Entry, ErrorList) {
	var (
		out  []Entry
		errs ErrorList
	)
	text := strings.TrimPrefix(string(data), "\ufeff")
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, &Error{File: name, Line: n, Msg: "expected key = value, got " + quoteShort(line)})
			continue
		}
		k = strings.TrimSpace(k)
		v = unquote(strings.TrimSpace(v))
		if !validKey(k) {
			msg := "malformed key " + quoteShort(k) + " (expected dot-separated lower-case words, e.g. listener.tcp.external)"
			if validKey(strings.ToLower(k)) {
				msg = "malformed key " + quoteShort(k) + ": keys are lower case (" + strings.ToLower(k) + ")"
			}
			errs = append(errs, &Error{File: name, Line: n, Msg: msg})
			continue
		}
		out = append(out, Entry{Key: k, Value: v, Line: n})
	}
	return out, errs
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return `"` + s + `"`
}
