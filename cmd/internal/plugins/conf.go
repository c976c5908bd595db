package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/etc"
)

// Key is one key of a plugin's file. Pattern segments "$n" stand for a number and "$name" for
// any word (auth.user.$n.username). A fixed key with a Default always has a value.
type Key struct {
	Pattern string
	Default string
}

// Conf is a plugin's configuration: etc/plugins/<name>.conf from the node's plugins.etc_dir
// when that file exists, else the embedded default, then the EMQX_ variables under the
// plugin's key prefix (auth.user.password_hash ← EMQX_AUTH__USER__PASSWORD_HASH). Its getters
// record problems, each naming the file and line (or the variable) and the key; Err returns
// them all. Used by one goroutine while the plugin starts.
type Conf struct {
	plugin string
	home   string
	keys   []Key
	vals   map[string]confValue
	errs   config.ErrorList
}

type confValue struct {
	v    string
	file string
	line int
	env  string
}

// LoadConf reads the configuration of plugin, whose keys all start with prefix. Relative
// paths of the file resolve against home (see Conf.Path). A file or variable that names an
// unknown key, a duplicate or a malformed line makes Err non-nil.
func LoadConf(plugin, prefix string, keys []Key, etcDir, home string, environ []string) *Conf {
	c := &Conf{plugin: plugin, home: home, keys: keys, vals: map[string]confValue{}}
	name := filepath.Join(etcDir, plugin+".conf")
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		name = "etc/plugins/" + plugin + ".conf (embedded)"
		data, err = etc.Plugins.ReadFile("plugins/" + plugin + ".conf")
	}
	if err != nil {
		c.errs = append(c.errs, &config.Error{File: name, Msg: "cannot read: " + err.Error()})
		return c
	}
	ents, lexErrs := config.Lex(name, data)
	c.errs = append(c.errs, lexErrs...)
	for _, e := range ents {
		if !c.known(e.Key) {
			c.errs = append(c.errs, &config.Error{File: name, Line: e.Line, Key: e.Key, Msg: "unknown key of " + plugin + " (its keys: " + c.keyList() + ")"})
			continue
		}
		if prev, dup := c.vals[e.Key]; dup {
			c.errs = append(c.errs, &config.Error{File: name, Line: e.Line, Key: e.Key, Msg: "duplicate key (first set at line " + strconv.Itoa(prev.line) + ")"})
			continue
		}
		c.vals[e.Key] = confValue{v: e.Value, file: name, line: e.Line}
	}
	for _, kv := range environ {
		n, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(n, config.EnvPrefix) {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(n[len(config.EnvPrefix):], "__", "."))
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if !c.known(key) {
			c.errs = append(c.errs, &config.Error{Env: n, Key: key, Msg: "unknown key of " + plugin + " (its keys: " + c.keyList() + ")"})
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		c.vals[key] = confValue{v: v, env: n}
	}
	return c
}

func (c *Conf) known(key string) bool {
	for _, k := range c.keys {
		if match(k.Pattern, key) {
			return true
		}
	}
	return false
}

func (c *Conf) keyList() string {
	ps := make([]string, len(c.keys))
	for i, k := range c.keys {
		ps[i] = k.Pattern
	}
	return strings.Join(ps, ", ")
}

// match reports whether key fits pattern.
func match(pattern, key string) bool {
	ps, ks := strings.Split(pattern, "."), strings.Split(key, ".")
	if len(ps) != len(ks) {
		return false
	}
	for i, p := range ps {
		switch p {
		case "$n":
			if _, err := strconv.ParseUint(ks[i], 10, 32); err != nil {
				return false
			}
		case "$name":
			if ks[i] == "" {
				return false
			}
		default:
			if p != ks[i] {
				return false
			}
		}
	}
	return true
}

// Get returns the value of key, or its default.
func (c *Conf) Get(key string) (string, bool) {
	if v, ok := c.vals[key]; ok {
		return v.v, true
	}
	for _, k := range c.keys {
		if k.Pattern == key && k.Default != "" {
			return k.Default, true
		}
	}
	return "", false
}

// Str returns the value of key, "" when unset.
func (c *Conf) Str(key string) string {
	v, _ := c.Get(key)
	return v
}

// Bool reads an on/off key.
func (c *Conf) Bool(key string) bool {
	switch c.Str(key) {
	case "on", "true":
		return true
	case "off", "false", "":
		return false
	}
	c.Fail(key, "expected on or off, got "+strconv.Quote(c.Str(key)))
	return false
}

// Enum reads a key that takes one of values.
func (c *Conf) Enum(key string, values ...string) string {
	v := c.Str(key)
	for _, x := range values {
		if v == x {
			return v
		}
	}
	c.Fail(key, "expected one of "+strings.Join(values, ", ")+", got "+strconv.Quote(v))
	return values[0]
}

// Path reads a file path, resolved against the node's home when relative; "" when unset.
func (c *Conf) Path(key string) string {
	v := c.Str(key)
	if v == "" || filepath.IsAbs(v) || c.home == "" {
		return v
	}
	return filepath.Join(c.home, v)
}

// Matching returns the set keys that fit pattern, sorted (numbers by value).
func (c *Conf) Matching(pattern string) []string {
	var out []string
	for k := range c.vals {
		if match(pattern, k) {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out
}

func naturalLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		x, err1 := strconv.Atoi(as[i])
		y, err2 := strconv.Atoi(bs[i])
		if err1 == nil && err2 == nil {
			return x < y
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

// Fail records a problem with key's value, naming where the value was set.
func (c *Conf) Fail(key, msg string) {
	e := &config.Error{Key: key, Msg: msg}
	if v, ok := c.vals[key]; ok {
		e.File, e.Line, e.Env = v.file, v.line, v.env
	} else {
		e.File = c.plugin + " default"
	}
	c.errs = append(c.errs, e)
}

// Err returns every problem found, or nil.
func (c *Conf) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration of %s:\n%w", c.plugin, c.errs)
}

// Int reads a whole number; "" is 0.
func (c *Conf) Int(key string) int {
	v := c.Str(key)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.Fail(key, "expected a whole number, got "+strconv.Quote(v))
	}
	return n
}

// Float reads a number; "" is 0.
func (c *Conf) Float(key string) float64 {
	v := c.Str(key)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		c.Fail(key, "expected a number, got "+strconv.Quote(v))
	}
	return f
}

// Duration reads a duration as EMQX writes them (500ms, 30s, 5m, 2h, 1d) or a bare number
// of milliseconds; "" is 0.
func (c *Conf) Duration(key string) time.Duration {
	return c.durationOf(key, c.Str(key))
}

// durationOf parses v, the value of key (or its default), as Duration does.
func (c *Conf) durationOf(key, v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 63); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.ParseUint(n, 10, 16); err == nil {
			return time.Duration(days) * 24 * time.Hour
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		c.Fail(key, "expected a duration such as 500ms, 5s or 1m, got "+strconv.Quote(v))
		return 0
	}
	return d
}
