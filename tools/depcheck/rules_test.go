package depcheck

import (
	"fmt"
	"strings"
)

// The package map (ARCHITECTURE.md, "Packages and import directions"). Paths are relative to
// the module; "engine/acl" also stands for its sub-packages.

// engineLibraries are the libraries under engine/: they never import engine or a side service.
// The core (engine) may import those marked core; engine/config and engine/ctl serve the
// binaries (cmd/internal/wire turns the schema into engine.Config). A new package under engine/
// that is not a side service must be added here.
var engineLibraries = []struct {
	path string
	core bool // engine may import it
}{
	{"engine/acl", true},
	{"engine/backend", false},
	{"engine/config", false},
	{"engine/ctl", false},
	{"engine/logging", true},
	{"engine/passhash", false},
	{"engine/rewrite", true},
	{"engine/transport", true},
}

// serviceRoot holds the side services (HTTP API, $SYS, trace, bridges, dashboard, cluster,
// authentication backends), one folder each: engine/service/<name>/... They are built on
// engine's exported API and the libraries; engine never imports them, and no service imports
// another (they meet through engine.Node). A package placed here needs no edit of this file.
const serviceRoot = "engine/service"

// serviceTestSupport is what the services' tests share (a node with a plugin installed, an
// MQTT client reporting reason codes, log and alarm recorders). It is not a service: only test
// files import it, and it imports no service.
const serviceTestSupport = serviceRoot + "/servicetest"

// testPorts picks free loopback ports for tests that start brokers or backend servers as
// processes. It is the one tool that test files anywhere may import (never non-test code).
const testPorts = "tools/freeport"

// foundation lists the packages below the engine, with everything they may import besides the
// standard library and their own sub-packages: packages of this module and third-party
// modules alike, so that a dependency cannot creep into them unnoticed.
var foundation = map[string][]string{
	"codec":          nil,
	"trie":           {"github.com/cespare/xxhash/v2"},
	"sessions/kvlog": nil,
	"sessions":       {"codec", "trie", "sessions/kvlog", "github.com/cespare/xxhash/v2", "github.com/valyala/bytebufferpool"},
	"etc":            nil,
}

// Third-party modules that only some packages may import.
const (
	gnet = "github.com/panjf2000/gnet"
	kong = "github.com/alecthomas/kong"
)

// mayImportGnet: the packages that own event loops, the engine itself (not its libraries or
// services) and its transports, and the load generator in bench, whose clients run on gnet
// loops of their own.
func mayImportGnet(rel string) bool {
	return rel == "engine" || hasPrefix(rel, "engine/transport", "bench")
}

// kind classifies a module-relative package path; "" means no rule covers the package.
func kind(rel string) string {
	switch {
	case foundationOf(rel) != "":
		return "foundation"
	case rel == "engine":
		return "core"
	case hasPrefix(rel, serviceRoot):
		return "service"
	case libraryOf(rel) != "":
		return "library"
	case hasPrefix(rel, "cmd"):
		return "cmd"
	case hasPrefix(rel, "bench", "tools"):
		return "tool"
	}
	return ""
}

// foundationOf returns the foundation package rel belongs to (its longest listed prefix).
func foundationOf(rel string) string {
	best := ""
	for p := range foundation {
		if hasPrefix(rel, p) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

func libraryOf(rel string) string {
	for _, l := range engineLibraries {
		if hasPrefix(rel, l.path) {
			return l.path
		}
	}
	return ""
}

// serviceOf returns engine/service/<name> for a package of that service.
func serviceOf(rel string) string {
	rest, ok := strings.CutPrefix(rel, serviceRoot+"/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return serviceRoot + "/" + name
}

// hasPrefix reports whether path is one of prefixes or below one of them.
func hasPrefix(path string, prefixes ...string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// violation is one import that breaks a rule; rule names the rule for the report.
type violation struct {
	pkg, imp, rule, why string
}

func (v violation) String() string {
	if v.imp == "" {
		return fmt.Sprintf("%s: rule %q: %s", v.pkg, v.rule, v.why)
	}
	return fmt.Sprintf("%s imports %s: rule %q: %s", v.pkg, v.imp, v.rule, v.why)
}

// check returns the violations of one package's imports. rel is the package's module-relative
// path; ours are its imports of this module (module-relative), external the third-party ones.
// test says the imports come from test files, where any third-party module is allowed.
func check(rel string, ours, external []string, test bool) []violation {
	var out []violation
	bad := func(imp, rule, why string) { out = append(out, violation{rel, imp, rule, why}) }
	k := kind(rel)
	if k == "" {
		return []violation{{rel, "", "every package has a rule", "no rule covers " + rel +
			": add it to engineLibraries or foundation in tools/depcheck/rules_test.go, or put a side service under " + serviceRoot + "/<name>"}}
	}
	for _, imp := range ours {
		if imp == rel || rel != "engine" && hasPrefix(imp, rel) {
			continue // its own sub-packages (engine's are libraries and services, ruled below)
		}
		switch {
		case test && imp == testPorts:
			continue
		case hasPrefix(imp, "bench") && !hasPrefix(rel, "bench"), hasPrefix(imp, "tools") && !hasPrefix(rel, "tools"):
			bad(imp, "bench and tools are imported by nothing", "they are programs and test helpers, not parts of the broker")
			continue
		case hasPrefix(imp, "cmd") && k != "cmd":
			bad(imp, "nothing imports cmd", "cmd wires the broker together and is the top of the map")
			continue
		}
		switch k {
		case "foundation":
			own := foundationOf(rel)
			if !containsPrefix(foundation[own], imp) {
				bad(imp, own+" (foundation)", fmt.Sprintf("%s may import only the standard library and %v", own, foundation[own]))
			}
		case "library":
			if imp == "engine" || hasPrefix(imp, serviceRoot) {
				bad(imp, "libraries never import engine", libraryOf(rel)+" is used by the core and the services, so it cannot depend on them")
			}
		case "core":
			switch {
			case hasPrefix(imp, serviceRoot):
				bad(imp, "engine never imports a side service", "services are built on engine's exported API and wired in by cmd")
			case hasPrefix(imp, "codec", "trie", "sessions"):
			case libraryOf(imp) != "" && coreMayImport(libraryOf(imp)):
			default:
				bad(imp, "engine imports only codec, trie, sessions and its core libraries", fmt.Sprintf("core libraries: %v", coreLibraries()))
			}
		case "service":
			if test && imp == serviceTestSupport {
				continue
			}
			if hasPrefix(imp, serviceRoot) && serviceOf(imp) != serviceOf(rel) {
				bad(imp, "services never import each other", "they meet through engine.Node, not through each other's packages")
			}
		}
	}
	if test {
		return out
	}
	for _, imp := range external {
		switch {
		case hasPrefix(imp, gnet):
			if !mayImportGnet(rel) {
				bad(imp, "only engine and engine/transport import gnet", "the engine owns the event loops (bench's load generator excepted)")
			}
		case hasPrefix(imp, kong):
			if k != "cmd" {
				bad(imp, "only cmd imports kong", "only the binaries read flags")
			}
		}
		if k == "foundation" {
			own := foundationOf(rel)
			if !containsPrefix(foundation[own], imp) {
				bad(imp, own+" (foundation)", fmt.Sprintf("%s may import only the standard library and %v", own, foundation[own]))
			}
		}
	}
	return out
}

func containsPrefix(allowed []string, imp string) bool {
	return hasPrefix(imp, allowed...)
}

func coreMayImport(lib string) bool {
	for _, l := range engineLibraries {
		if l.path == lib {
			return l.core
		}
	}
	return false
}

func coreLibraries() []string {
	var out []string
	for _, l := range engineLibraries {
		if l.core {
			out = append(out, l.path)
		}
	}
	return out
}
