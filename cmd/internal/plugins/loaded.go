package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadedEntry is one line of data/loaded_plugins: {name, true}. or {name, false}. (EMQX's
// Erlang-term form; a bare `name.` means true, as EMQX 3.0 wrote it).
type loadedEntry struct {
	name   string
	active bool
	line   int
}

// readLoaded parses the loaded_plugins file; a missing file is empty. A line that does not
// parse is an error naming the file and line.
func readLoaded(path string) ([]loadedEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	var out []loadedEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '%' {
			continue
		}
		e, ok := parseLoaded(line)
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected {plugin_name, true}. or {plugin_name, false}., got %q", path, i+1, line)
		}
		e.line = i + 1
		out = append(out, e)
	}
	return out, nil
}

func parseLoaded(line string) (loadedEntry, bool) {
	body, ok := strings.CutSuffix(line, ".")
	if !ok {
		return loadedEntry{}, false
	}
	body = strings.TrimSpace(body)
	if validName(body) {
		return loadedEntry{name: body, active: true}, true
	}
	inner, ok := strings.CutPrefix(body, "{")
	if !ok {
		return loadedEntry{}, false
	}
	if inner, ok = strings.CutSuffix(inner, "}"); !ok {
		return loadedEntry{}, false
	}
	name, state, ok := strings.Cut(inner, ",")
	name, state = strings.TrimSpace(name), strings.TrimSpace(state)
	if !ok || !validName(name) || state != "true" && state != "false" {
		return loadedEntry{}, false
	}
	return loadedEntry{name: name, active: state == "true"}, true
}

// validName accepts an Erlang atom as EMQX names plugins: lower-case letters, digits, _.
func validName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// writeLoaded replaces the file with entries, atomically.
func writeLoaded(path string, entries []loadedEntry) error {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "{%s, %t}.\n", e.name, e.active)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create directory of %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(b.String())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
