// Package ci holds checks of the CI setup itself. TestGatePatternSelectsExactlyTheGates keeps
// the zero-allocation gates reachable by the non-race pass of `make test`: the race pass skips
// them (the race detector allocates), so a gate that its -run pattern missed would never run.
package ci

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const root = "../.."

// gatePattern reads ALLOC_GATES, the -run pattern of the non-race pass, from the Makefile.
func gatePattern(t *testing.T) *regexp.Regexp {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ALLOC_GATES\s*:?=\s*(\S+)\s*$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile sets no ALLOC_GATES (the -run pattern of the allocation gates)")
	}
	re, err := regexp.Compile(string(m[1]))
	if err != nil {
		t.Fatalf("ALLOC_GATES %q: %v", m[1], err)
	}
	return re
}

// testFuncs parses the _test.go files of one directory: for each top-level function, whether
// it calls testing.AllocsPerRun itself and which other functions of the directory it names.
type testFuncs struct {
	direct map[string]bool
	refs   map[string][]string
}

func parseDir(t *testing.T, fset *token.FileSet, dir string, files []string) testFuncs {
	t.Helper()
	tf := testFuncs{direct: map[string]bool{}, refs: map[string][]string{}}
	var decls []*ast.FuncDecl
	for _, f := range files {
		af, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Body != nil {
				decls = append(decls, fd)
				tf.direct[fd.Name.Name] = false
			}
		}
	}
	for _, fd := range decls {
		name := fd.Name.Name
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "testing" && n.Sel.Name == "AllocsPerRun" {
					tf.direct[name] = true
				}
			case *ast.Ident:
				if _, ok := tf.direct[n.Name]; ok && n.Name != name {
					tf.refs[name] = append(tf.refs[name], n.Name)
				}
			}
			return true
		})
	}
	return tf
}

// gates returns the functions that call testing.AllocsPerRun directly or through helpers.
func (tf testFuncs) gates() map[string]bool {
	g := map[string]bool{}
	for f, d := range tf.direct {
		if d {
			g[f] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for f, refs := range tf.refs {
			if g[f] {
				continue
			}
			for _, r := range refs {
				if g[r] {
					g[f], changed = true, true
					break
				}
			}
		}
	}
	return g
}

func isTest(name string) bool {
	for _, p := range []string{"Test", "Fuzz", "Example"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestGatePatternSelectsExactlyTheGates: every test of the module that measures allocations with
// testing.AllocsPerRun (directly or through a helper) matches ALLOC_GATES, and every test that
// matches it is such a gate, so the non-race pass runs exactly the gates.
func TestGatePatternSelectsExactlyTheGates(t *testing.T) {
	re := gatePattern(t)
	byDir := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if path != root && (strings.HasPrefix(base, ".") || base == "testdata" || base == "vendor" || base == "bin") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module: not in ./... of this one
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	for dir, files := range byDir {
		tf := parseDir(t, fset, dir, files)
		gates := tf.gates()
		rel, _ := filepath.Rel(root, dir)
		for f := range tf.direct {
			if !isTest(f) {
				continue
			}
			switch {
			case gates[f] && !re.MatchString(f):
				t.Errorf("%s: %s measures allocations but does not match ALLOC_GATES %q: the race pass skips it and the non-race pass would not run it; rename it", rel, f, re)
			case !gates[f] && re.MatchString(f):
				t.Errorf("%s: %s matches ALLOC_GATES %q but measures no allocations (testing.AllocsPerRun): rename it", rel, f, re)
			case gates[f]:
				found = append(found, rel+"."+f)
			}
		}
	}
	sort.Strings(found)
	if len(found) == 0 {
		t.Fatal("no allocation gates found: the walk or the parse is broken")
	}
	t.Logf("allocation gates: %s", strings.Join(found, " "))
}
