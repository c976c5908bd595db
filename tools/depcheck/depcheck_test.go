package depcheck

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/emqgo/emqgo"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// split separates imports into this module's packages (module-relative) and third-party
// ones, leaving out the standard library.
func split(imps []string) (ours, external []string) {
	for _, imp := range imps {
		switch {
		case imp == module || strings.HasPrefix(imp, module+"/"):
			ours = append(ours, strings.TrimPrefix(strings.TrimPrefix(imp, module), "/"))
		case strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
			external = append(external, imp)
		}
	}
	return ours, external
}

// TestDependencyDirections checks every package's imports, and its test files' imports of
// this module, against the rules of rules_test.go.
func TestDependencyDirections(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		ours, external := split(p.Imports)
		vs := check(rel, ours, external, false)
		if kind(rel) != "" { // else vs says so, once
			testOurs, _ := split(append(p.TestImports, p.XTestImports...))
			for _, v := range check(rel, testOurs, nil, true) {
				v.pkg += " (tests)"
				vs = append(vs, v)
			}
		}
		for _, v := range vs {
			t.Error(v)
		}
	}
}
