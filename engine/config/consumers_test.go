package config

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// This file checks that the configuration is honest: every key of the schema either has a
// consumer in the broker's non-test code outside this package, or is marked NoEffect (and so
// appears on the start-up warning line). "Consumer" is checked on the type-checked source of
// the whole module, not by a list kept by hand:
//
//   - a key with a setter must write at least one Config field, and every field on the path
//     to it (Config.Node, Node.DataDir) must be read somewhere (a read, not an assignment);
//   - a key kept only in Config.Raw must be read by its literal name through Get or Raw[...];
//   - the pattern keys that build.go turns into fields are mapped to those fields below.
//
// The engine's own settings (engine.Config, engine.Zone, engine.Listener) must be read too,
// so that wiring a key into a field that nothing uses does not count as acting on it.

const modulePath = "github.com/emqgo/emqgo"

// patternFields maps the pattern keys without setters that build.go turns into fields.
var patternFields = map[string][]string{
	"log.$level.file":              {"Config.Log", "Log.LevelFiles"},
	"module.subscription.$n.topic": {"Modules.Subscriptions", "ModuleSubscription.Topic"},
	"module.subscription.$n.qos":   {"Modules.Subscriptions", "ModuleSubscription.QoS"},
	"module.subscription.$n.nl":    {"Modules.Subscriptions", "ModuleSubscription.NL"},
	"module.subscription.$n.rap":   {"Modules.Subscriptions", "ModuleSubscription.RAP"},
	"module.subscription.$n.rh":    {"Modules.Subscriptions", "ModuleSubscription.RH"},
	"module.rewrite.rule.$n":       {"Modules.RewriteRules", "RewriteRule.Regexp"},
	"module.rewrite.pub.rule.$n":   {"Modules.RewriteRules", "RewriteRule.Action"},
	"module.rewrite.sub.rule.$n":   {"Modules.RewriteRules", "RewriteRule.Action"},
	"listener.$kind.$name.access":  {"Listener.Access", "AccessRule.Allow"},
}

// readVia names the fields that config's own exported methods read for their callers: the
// field counts as read when the method is called outside the package.
var readVia = map[string]string{
	"Listener.Zone":     "Config.ZoneOf",
	"Cluster.ProtoDist": "Cluster.TLSEnabled",
	"ClusterSSL.On":     "Cluster.TLSEnabled",
}

// moduleUses is what the non-test code of the module outside engine/config reads.
type moduleUses struct {
	fields  map[string]bool // "<pkg path>.<struct type>.<field>" read somewhere
	rawKeys map[string]bool // string literals passed to Get or used as a Raw index
}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
	Standard   bool
}

// loadModuleUses type-checks every non-test package of the module (dependencies come from
// the export data `go list -export` leaves in the build cache) and records the field reads.
func loadModuleUses(t *testing.T) *moduleUses {
	t.Helper()
	// The go command that runs this test (go test puts its GOROOT/bin first in PATH).
	goBin := "go"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "list", "-export", "-deps", "-json=ImportPath,Dir,GoFiles,Export,Standard", "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export ./...: %v", err)
	}
	exports := map[string]string{}
	var mine []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if !p.Standard && (p.ImportPath == modulePath || strings.HasPrefix(p.ImportPath, modulePath+"/")) {
			mine = append(mine, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	u := &moduleUses{fields: map[string]bool{}, rawKeys: map[string]bool{}}
	for _, p := range mine {
		if p.ImportPath == modulePath+"/engine/config" || len(p.GoFiles) == 0 {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}, Types: map[ast.Expr]types.TypeAndValue{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		written := map[ast.Expr]bool{}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					if n.Tok == token.ASSIGN || n.Tok == token.DEFINE {
						for _, l := range n.Lhs {
							written[l] = true
						}
					}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Get" && len(n.Args) == 1 {
						if s, ok := stringConst(info, n.Args[0]); ok {
							u.rawKeys[s] = true
						}
					}
				case *ast.IndexExpr:
					if sel, ok := n.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Raw" {
						if s, ok := stringConst(info, n.Index); ok {
							u.rawKeys[s] = true
						}
					}
				}
				return true
			})
		}
		for expr, sel := range info.Selections {
			if sel.Kind() == types.MethodVal {
				if name := methodName(sel); name != "" {
					u.fields[name] = true
				}
				continue
			}
			if sel.Kind() != types.FieldVal || written[expr] {
				continue
			}
			if name := fieldName(sel); name != "" {
				u.fields[name] = true
			}
		}
	}
	return u
}

func stringConst(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil {
		return "", false
	}
	s, err := strconv.Unquote(tv.Value.ExactString())
	return s, err == nil
}

// fieldName names the field a selection reads as "<pkg path>.<struct type>.<field>",
// following embedded fields to the struct that declares it.
func fieldName(sel *types.Selection) string {
	t := sel.Recv()
	idx := sel.Index()
	for i, k := range idx {
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		named, _ := t.(*types.Named)
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return ""
		}
		fld := st.Field(k)
		if i == len(idx)-1 {
			if named == nil || named.Obj().Pkg() == nil {
				return ""
			}
			return named.Obj().Pkg().Path() + "." + named.Obj().Name() + "." + fld.Name()
		}
		t = fld.Type()
	}
	return ""
}

// methodName names a method value as "<pkg path>.<type>.<method>".
func methodName(sel *types.Selection) string {
	fn, ok := sel.Obj().(*types.Func)
	if !ok || fn.Pkg() == nil {
		return ""
	}
	recv := fn.Type().(*types.Signature).Recv().Type()
	if p, ok := recv.(*types.Pointer); ok {
		recv = p.Elem()
	}
	named, ok := recv.(*types.Named)
	if !ok {
		return ""
	}
	return fn.Pkg().Path() + "." + named.Obj().Name() + "." + fn.Name()
}

// changedFields lists, as "Type.Field", every field on the path to each leaf in which a and b
// differ. Both are values of the same struct type.
func changedFields(a, b reflect.Value, out map[string]bool) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		out[t.Name()+"."+t.Field(i).Name] = true
		switch {
		case fa.Kind() == reflect.Struct:
			changedFields(fa, fb, out)
		case fa.Kind() == reflect.Pointer && fa.Type().Elem().Kind() == reflect.Struct:
			za := reflect.New(fa.Type().Elem()).Elem()
			zb := za
			if !fa.IsNil() {
				za = fa.Elem()
			}
			if !fb.IsNil() {
				zb = fb.Elem()
			}
			changedFields(za, zb, out)
		}
	}
}

// sampleValues returns values of the spec's type that parse, so that a setter can be seen
// changing a field whatever its zero value.
func sampleValues(s *Spec) []string {
	var c []string
	if s.Default != "" {
		c = append(c, s.Default)
	}
	switch s.Type {
	case TypeString:
		c = append(c, "x1", "y2")
	case TypePath:
		c = append(c, "p/x", "q/y")
	case TypeInt:
		lo, hi := int64(3), int64(5)
		if s.HasRange {
			lo, hi = int64(s.Min)+1, int64(s.Max)
		}
		c = append(c, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))
	case TypeFloat:
		c = append(c, "0.6", "0.9", "2")
	case TypeBool:
		c = append(c, "true", "false")
	case TypeEnum:
		c = append(c, s.Enum...)
	case TypeDuration:
		c = append(c, "7s", "9s")
	case TypeBytes:
		c = append(c, "3MB", "5KB")
	case TypePercent:
		c = append(c, "30%", "40%")
	case TypeAddr:
		c = append(c, "127.0.0.1:1999", "2999")
	case TypeList:
		if len(s.Enum) > 0 {
			c = append(c, s.Enum[0], s.Enum[len(s.Enum)-1])
		} else {
			c = append(c, "a,b", "c")
		}
	case TypeRate:
		c = append(c, "10,1s", "20,2s")
	case TypeByteRate:
		c = append(c, "10KB,1s", "20KB,2s")
	case TypeGCPolicy:
		c = append(c, "1000|1MB", "10|1KB")
	case TypeFlapping:
		c = append(c, "30,1m,5m", "3,1s,5s")
	case TypePriorities:
		c = append(c, "a/1=10")
	}
	var ok []string
	for _, v := range c {
		if _, err := parseValue(s, v); err == nil {
			ok = append(ok, v)
		}
	}
	return ok
}

// fieldsOfSetter returns the fields a setter writes, found by running it on zero values.
func fieldsOfSetter(s *Spec, fresh func() reflect.Value, set func(reflect.Value, any)) map[string]bool {
	out := map[string]bool{}
	zero := fresh()
	for _, v := range sampleValues(s) {
		x := fresh()
		set(x, mustParse(s, v))
		changedFields(zero.Elem(), x.Elem(), out)
	}
	return out
}

func TestEveryKeyActsOrIsMarked(t *testing.T) {
	u := loadModuleUses(t)
	cfgPkg := modulePath + "/engine/config."
	var problems []string
	check := func(key string, s *Spec, fields map[string]bool, raw bool) {
		if s.NoEffect {
			if s.Owner == "" {
				problems = append(problems, key+": marked NoEffect without an owner saying why")
			}
			return
		}
		if raw {
			if !u.rawKeys[key] {
				problems = append(problems, key+": kept in Raw only, not read by Get or Raw[...] with this literal name, and not marked NoEffect")
			}
			return
		}
		if len(fields) == 0 {
			problems = append(problems, key+": its setter writes no field")
			return
		}
		var unread []string
		for f := range fields {
			if !u.fields[cfgPkg+f] && (readVia[f] == "" || !u.fields[cfgPkg+readVia[f]]) {
				unread = append(unread, f)
			}
		}
		if len(unread) > 0 {
			sort.Strings(unread)
			problems = append(problems, key+": nothing outside engine/config reads "+strings.Join(unread, ", ")+"; wire it or mark it NoEffect")
		}
	}
	zoneGlobal := map[string]bool{}
	for _, d := range theZones {
		zoneGlobal[d.global] = true
	}
	for _, d := range theFixed {
		s := d.spec
		if zoneGlobal[s.Key] {
			continue // a zone setting's global key: checked with the zone's below
		}
		if d.set == nil {
			if pf, ok := patternFields[s.Key]; ok {
				check(s.Key, s, toSet(pf), false)
				continue
			}
			check(s.Key, s, nil, true)
			continue
		}
		set := d.set
		check(s.Key, s, fieldsOfSetter(s, func() reflect.Value { return reflect.ValueOf(&Config{}) },
			func(x reflect.Value, v any) { set(x.Interface().(*Config), v) }), false)
	}
	for _, d := range theZones {
		set := d.set
		fields := fieldsOfSetter(d.spec, func() reflect.Value { return reflect.ValueOf(&Zone{}) },
			func(x reflect.Value, v any) { set(x.Interface().(*Zone), v) })
		for _, key := range []string{d.global, "zone.$name." + d.spec.Key} {
			s := theSchema.lookup(strings.Replace(key, "$name", "z", 1))
			check(key, s, fields, false)
		}
	}
	for _, k := range kinds {
		for _, d := range theListeners {
			if !kindIn(d.kinds, k) {
				continue
			}
			s := listenerSpecs[k][d.suffix]
			if d.set == nil {
				check(s.Key, s, nil, true)
				continue
			}
			set := d.set
			fields := fieldsOfSetter(s, func() reflect.Value {
				return reflect.ValueOf(&Listener{TLS: &TLS{}, WS: &WebSocket{}})
			}, func(x reflect.Value, v any) { set(x.Interface().(*Listener), v) })
			check(s.Key, s, fields, false)
		}
		s := theSchema.lookup("listener." + string(k) + ".x.access.1")
		check(s.Key, s, toSet(patternFields["listener.$kind.$name.access"]), false)
	}
	// A key that is marked must not be the only thing standing between a user and a field the
	// schema pretends is honest: the engine's settings must all be read.
	for _, typ := range []string{"Config", "Zone", "Listener"} {
		for _, f := range engineFields(t, typ) {
			if !u.fields[modulePath+"/engine."+typ+"."+f] {
				problems = append(problems, "engine."+typ+"."+f+": nothing reads it; remove it or wire it")
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

func toSet(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// engineFields lists the exported fields of engine.<typ> from its source, so this package's
// test need not import engine.
func engineFields(t *testing.T, typ string) []string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("../*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != typ {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fl := range st.Fields.List {
				for _, name := range fl.Names {
					if name.IsExported() {
						out = append(out, name.Name)
					}
				}
			}
			return false
		})
	}
	if len(out) == 0 {
		t.Fatalf("engine.%s not found", typ)
	}
	return out
}
