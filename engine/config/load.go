package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/etc"
)

// EmbeddedName is the file name reported for the embedded default etc/emqx.conf.
const EmbeddedName = "etc/emqx.conf (embedded)"

// EnvPrefix starts the environment variables that override keys: EMQX_ followed by the key in
// upper case with each "." written "__", e.g. EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:11883 or
// EMQX_ZONE__EXTERNAL__IDLE_TIMEOUT=15s. Top-level keys have no "__": EMQX_ALLOW_ANONYMOUS.
//
// A variable that names a known key overrides the file (it is not a duplicate); values are
// checked like the file's and may be quoted. An unknown name that contains "__"
// looks like a key and is an error (with a suggestion). Any other EMQX_ variable, such as
// EMQX_NAME or EMQX_HOST used by container start scripts, is ignored with a Notice.
const EnvPrefix = "EMQX_"

// Load reads the config file at path, or the embedded default etc/emqx.conf when path is "",
// applies the EMQX_ variables of env (in os.Environ form, "NAME=value"), and returns the
// configuration and the notices (see Notice). On failure the error is an ErrorList holding
// every problem found, or the error of reading the file. Relative paths stay as written
// unless node.home is set; LoadAt resolves them against a home.
func Load(path string, env []string) (*Config, []Notice, error) {
	return LoadAt(path, env, "")
}

// LoadAt is Load with relative paths (every key of TypePath: node.data_dir, log.dir, acl_file,
// persistence.dir, certificates…) resolved against home, which should be absolute. node.home,
// when set, replaces home (itself made absolute against the working directory). With no home
// at all, paths stay as written: relative to the working directory.
func LoadAt(path string, env []string, home string) (*Config, []Notice, error) {
	if path == "" {
		return parse(EmbeddedName, []byte(etc.EmqxConf), env, home)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read config file %q: %w", path, err)
	}
	return parse(path, data, env, home)
}

// DefaultHome returns the home of a node whose binary is exe (made absolute, symbolic links
// resolved) when node.home is not set: the directory above exe's bin/ directory, as in EMQX's
// release layout (<home>/bin/emqx, <home>/etc/emqx.conf), or wd (the working directory) when
// exe is not in a directory named bin (go run, test binaries).
func DefaultHome(exe, wd string) string {
	if dir := filepath.Dir(exe); filepath.Base(dir) == "bin" {
		return filepath.Dir(dir)
	}
	return wd
}

// Parse is Load on the contents of a file; name is used in errors and notices only.
func Parse(name string, data []byte, env []string) (*Config, []Notice, error) {
	return parse(name, data, env, "")
}

func parse(name string, data []byte, env []string, home string) (*Config, []Notice, error) {
	ents, lexErrs := Lex(name, data)
	l := newLoader()
	l.home = home
	l.errs = lexErrs
	for _, e := range ents {
		l.add(e.Key, e.Value, source{file: name, line: e.Line})
	}
	l.applyEnv(env)
	var c *Config
	if len(l.errs) == 0 {
		c = l.build()
	}
	l.finishNotices()
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return errLess(l.errs[i], l.errs[j]) })
		return nil, l.notes, l.errs
	}
	return c, l.notes, nil
}

// defaultName is the file name of the settings of Default.
const defaultName = "config.Default"

// Default returns the built-in configuration: the same as loading the embedded etc/emqx.conf
// with no environment, without parsing it. Each call returns a new Config.
func Default() *Config {
	l := newLoader()
	for _, kv := range defaultInstanceKeys {
		l.add(kv[0], kv[1], source{file: defaultName})
	}
	c := l.build()
	if len(l.errs) > 0 {
		panic("BUG: config: defaults are invalid: " + l.errs.Error())
	}
	return c
}

var (
	theHead      = fixedDefs()
	theTail      = fixedDefsTail()
	theFixed     = append(append([]fixedDef(nil), theHead...), theTail...)
	theZones     = zoneDefs()
	theListeners = listenerDefs()
	// listenerSpecs[kind][suffix] is the spec of listener.<kind>.$name[.<suffix>].
	listenerSpecs = map[Kind]map[string]*Spec{}
	theSchema     = buildSchema()
)

func buildSchema() *schema {
	var specs []*Spec
	for _, d := range theHead {
		specs = append(specs, d.spec)
	}
	for _, d := range theZones {
		if strings.HasPrefix(d.global, "mqtt.") {
			s := *d.spec
			s.Key = d.global
			specs = append(specs, &s)
		}
	}
	for _, d := range theZones {
		s := *d.spec
		s.Key = "zone.$name." + d.spec.Key
		s.Default = "" // zones inherit the global value
		specs = append(specs, &s)
	}
	for _, k := range kinds {
		listenerSpecs[k] = map[string]*Spec{}
		for _, d := range theListeners {
			if !kindIn(d.kinds, k) {
				continue
			}
			s := d.spec
			s.Key = "listener." + string(k) + ".$name"
			if d.suffix != "" {
				s.Key += "." + d.suffix
			}
			if v, ok := d.defaults[k]; ok {
				s.Default = v
			}
			if !transportBuilt[k] {
				s.NoEffect, s.Owner = true, OwnerTransports
			} else if o, ok := d.neOn[k]; ok {
				s.NoEffect, s.Owner = true, o
			}
			specs = append(specs, &s)
			listenerSpecs[k][d.suffix] = &s
		}
		as := listenerAccessSpec(k)
		if !transportBuilt[k] {
			as.NoEffect, as.Owner = true, OwnerTransports
		}
		specs = append(specs, as)
	}
	for _, d := range theTail {
		specs = append(specs, d.spec)
	}
	return newSchema(specs)
}

// transportBuilt says which listener kinds the broker serves; every key of the other kinds is
// accepted without effect (the engine skips those listeners and says so at start).
var transportBuilt = map[Kind]bool{KindTCP: true, KindSSL: true, KindWS: true, KindWSS: true}

func kindIn(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// source is where a value came from.
type source struct {
	file string
	line int
	env  string
}

type setting struct {
	value string
	spec  *Spec
	src   source
}

type loader struct {
	set   map[string]*setting
	lines map[string]int // first line of each key read from the file, for duplicates
	errs  ErrorList
	notes []Notice
	home  string // relative paths resolve against it; "" leaves them as written
	// suggested counts "did you mean" searches; they are costly, and a file that is wrong
	// on every line needs no more than the first few.
	suggested int
}

const maxSuggestions = 20

func (l *loader) suggest(key string) string {
	if l.suggested >= maxSuggestions {
		return ""
	}
	l.suggested++
	return theSchema.suggest(key)
}

func newLoader() *loader {
	return &loader{set: map[string]*setting{}, lines: map[string]int{}}
}

func (l *loader) fail(src source, key, msg string) {
	l.errs = append(l.errs, &Error{File: src.file, Line: src.line, Env: src.env, Key: key, Msg: msg})
}

func errLess(a, b *Error) bool {
	if (a.Env == "") != (b.Env == "") {
		return a.Env == ""
	}
	return a.Line < b.Line
}

// add records one value after checking key and value.
func (l *loader) add(key, value string, src source) {
	spec := theSchema.lookup(key)
	if spec == nil {
		msg := "unknown key"
		if s := l.suggest(key); s != "" {
			msg += " (did you mean " + s + "?)"
		} else if IsPluginKey(key) {
			msg += " of emqx.conf: it belongs in its plugin's file, etc/plugins/<plugin>.conf (dashboard.*: emqx_dashboard.conf)"
		}
		l.fail(src, key, msg)
		return
	}
	if src.env == "" {
		if first, dup := l.lines[key]; dup {
			l.fail(src, key, "duplicate key (first set at line "+strconv.Itoa(first)+")")
			return
		}
		l.lines[key] = src.line
	}
	if _, err := parseValue(spec, value); err != nil {
		l.fail(src, key, err.Error())
		return
	}
	l.set[key] = &setting{value: value, spec: spec, src: src}
}

// applyEnv applies the EMQX_ variables of env; see EnvPrefix.
func (l *loader) applyEnv(env []string) {
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || len(name) == len(EnvPrefix) {
			continue
		}
		rest := name[len(EnvPrefix):]
		key := strings.ToLower(strings.ReplaceAll(rest, "__", "."))
		src := source{env: name}
		if IsPluginKey(key) {
			continue // the plugin loader reads it (see PluginKeyPrefixes)
		}
		if validKey(key) && theSchema.lookup(key) != nil {
			l.add(key, unquote(strings.TrimSpace(value)), src)
			continue
		}
		sug := ""
		if validKey(key) {
			sug = l.suggest(key)
		}
		if strings.Contains(rest, "__") {
			msg := "unknown key"
			if sug != "" {
				msg += " (did you mean " + envName(sug) + "?)"
			}
			l.fail(src, key, msg)
			continue
		}
		msg := "not a config key; ignored"
		if sug != "" {
			msg += " (did you mean " + envName(sug) + "?)"
		}
		l.notes = append(l.notes, Notice{Env: name, Msg: msg})
	}
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// finishNotices adds a notice for each key without effect that the configuration sets (in the
// file, the embedded default file or the environment), and orders all notices like errors.
func (l *loader) finishNotices() {
	for _, k := range sortedKeys(l.set) {
		s := l.set[k]
		if !s.spec.NoEffect {
			continue
		}
		l.notes = append(l.notes, Notice{File: s.src.file, Line: s.src.line, Env: s.src.env, Key: k,
			Msg: "accepted without effect (" + s.spec.Owner + ")", Owner: s.spec.Owner})
	}
	sort.SliceStable(l.notes, func(i, j int) bool {
		a, b := l.notes[i], l.notes[j]
		if (a.Env == "") != (b.Env == "") {
			return a.Env == ""
		}
		return a.Line < b.Line
	})
}

// mustParse parses a value that was already checked (or a built-in default).
func mustParse(s *Spec, v string) any {
	x, err := parseValue(s, v)
	if err != nil {
		panic(fmt.Sprintf("BUG: config: %s = %q: %v", s.Key, v, err))
	}
	return x
}
