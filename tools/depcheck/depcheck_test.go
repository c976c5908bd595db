// Package depcheck holds a test that enforces the package map of DESIGN.md: arrows point down
// only, library packages import no flags or frameworks, and nothing imports the benchmarks.
package depcheck

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/emqgo/emqgo"

type pkg struct {
	ImportPath string
	Imports    []string
}

// rule says what a package (prefix match on the path below the module) may import besides
// the standard library.
type rule struct {
	pkg   string
	allow []string // allowed non-std import prefixes (module-relative ones start with module)
}

var rules = []rule{
	{pkg: "codec", allow: nil},
	{pkg: "trie", allow: []string{"github.com/cespare/xxhash/v2"}},
	{pkg: "sessions", allow: []string{module + "/codec", module + "/trie", "github.com/cespare/xxhash/v2", "github.com/valyala/bytebufferpool"}},
	{pkg: "etc", allow: nil},
}

// engineSide lists the side services that engine itself must never import: cmd wires them.
var engineSide = []string{"engine/httpapi", "engine/sys", "engine/bridge", "engine/trace", "engine/dashboard"}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
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

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func TestDependencyDirections(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			if hasPrefix(imp, []string{module + "/bench", module + "/tools"}) && !hasPrefix(rel, []string{"bench", "tools"}) {
				t.Errorf("%s imports %s: bench and tools are imported by nothing", rel, imp)
			}
			if hasPrefix(imp, []string{module + "/cmd"}) {
				t.Errorf("%s imports %s: cmd is the top, nothing imports it", rel, imp)
			}
			if imp == "github.com/alecthomas/kong" && !hasPrefix(rel, []string{"cmd", "bench", "tools"}) {
				t.Errorf("%s imports kong: only cmd reads flags", rel)
			}
			if strings.HasPrefix(imp, "github.com/panjf2000/gnet") && !hasPrefix(rel, []string{"engine", "bench", "tools"}) {
				t.Errorf("%s imports gnet: only engine owns the event loops", rel)
			}
			if rel == "engine" {
				for _, side := range engineSide {
					if imp == module+"/"+side {
						t.Errorf("engine imports %s: side services reach the engine, not the reverse", imp)
					}
				}
			}
			for _, r := range rules {
				if !hasPrefix(rel, []string{r.pkg}) || isStd(imp) || hasPrefix(imp, []string{module + "/" + rel}) {
					continue
				}
				if !hasPrefix(imp, r.allow) {
					t.Errorf("%s imports %s: %s may import only the standard library and %v", rel, imp, r.pkg, r.allow)
				}
			}
		}
	}
}
