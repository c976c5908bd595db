package rewrite

import (
	"strings"
	"testing"
)

func mustCompile(t *testing.T, rules ...string) *Rules {
	t.Helper()
	var list []Rule
	for _, s := range rules {
		r, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		list = append(list, r)
	}
	rs, err := Compile(list)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestApply(t *testing.T) {
	rs := mustCompile(t,
		`x/# ^x/y/(.+)$ z/y/$1`,
		`y/+/z/# ^y/(.+)/z/(.+)$ y/z/$2`,
		`a/+ ^a/(b)$ c/$1/$1/$2/$0`, // $2: no such group (literal), $0 never replaced
		`opt/# ^opt/(x)?(.*)$ got/$1/$2`,
		`sub/# ^sub/(.*)$ $1`,
		`x/# ^x/(.*)$ never/$1`, // shadowed by the first rule
		`+/tail ^(.*)/tail$ head/$1`,
		`#   ^(.*)$     all/$1`,
	)
	f := func(topic, want string, wantChanged bool) {
		t.Helper()
		prefix := []byte("keep:")
		out, changed := rs.Apply(prefix, []byte(topic))
		got := string(out)
		if changed {
			if !strings.HasPrefix(got, "keep:") {
				t.Fatalf("%q: result %q does not extend dst", topic, got)
			}
			got = got[len("keep:"):]
		}
		if got != want || changed != wantChanged {
			t.Fatalf("%q: got %q changed=%v, want %q changed=%v", topic, got, changed, want, wantChanged)
		}
	}
	f("x/y/1", "z/y/1", true)
	f("x/y/a/b", "z/y/a/b", true)
	f("x", "x", false) // x/# matches x, the regexp does not: unchanged, later rules not tried
	f("x/z/1", "x/z/1", false)
	f("y/a/z/b", "y/z/b", true)
	f("y/a/b/z/c", "all/y/a/b/z/c", true) // y/+/z/# and +/tail do not match; # does
	f("a/b", "c/b/b/$2/$0", true)
	f("opt/rest", "got//rest", true) // a group that took no part is replaced by nothing
	f("opt/xrest", "got/x/rest", true)
	f("sub/", "", true) // the caller refuses the empty result
	f("q/tail", "head/q", true)
	f("q/tail/more", "all/q/tail/more", true)
	f("$SYS/tail", "$SYS/tail", false) // leading wildcards never match $ topics
	f("$SYS/x", "$SYS/x", false)
	// Filters being rewritten: their wildcards are ordinary levels.
	f("x/y/#", "z/y/#", true)
	f("y/+/z/+", "y/z/+", true)
	f("+/tail", "head/+", true)
}

func TestApplyNoRules(t *testing.T) {
	var rs *Rules
	if out, changed := rs.Apply(nil, []byte("a/b")); changed || string(out) != "a/b" || rs.Len() != 0 {
		t.Fatalf("nil rules: %q %v", out, changed)
	}
	rs, err := Compile(nil)
	if rs != nil || err != nil {
		t.Fatalf("Compile(nil) = %v, %v; want nil, nil", rs, err)
	}
}

func TestMatchFilter(t *testing.T) {
	f := func(filter, topic string, want bool) {
		t.Helper()
		if got := matchFilter(strings.Split(filter, "/"), []byte(topic)); got != want {
			t.Fatalf("matchFilter(%q, %q) = %v, want %v", filter, topic, got, want)
		}
	}
	f("a/b", "a/b", true)
	f("a/b", "a/b/c", false)
	f("a/b/c", "a/b", false)
	f("a/b", "a", false)
	f("a/+", "a/", true)
	f("a/+", "a", false)
	f("a/#", "a", true)
	f("a/#", "a/b/c", true)
	f("a/#", "ab", false)
	f("+/+", "/", true)
	f("+", "", true)
	f("#", "", true)
	f("/a", "/a", true)
	f("a//b", "a//b", true)
	f("a//b", "a/b", false)
	f("#", "$SYS/a", false)
	f("+/a", "$x/a", false)
	f("$SYS/#", "$SYS/a", true)
	f("a/+", "a/+", true)
	f("a/b", "a/+", false)
}

func TestCompileErrors(t *testing.T) {
	f := func(v, wantErr string) {
		t.Helper()
		_, err := Parse(v)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("Parse(%q): error %v, want one containing %q", v, err, wantErr)
		}
	}
	f(`x/# ^x/(.+$ z/$1`, "invalid regular expression")
	f(`x/#/y ^x$ z`, `filter "x/#/y" is not a topic filter`)
	f(`x/a+ ^x$ z`, `filter "x/a+" is not a topic filter`)
	f(`$share/g/x ^x$ z`, "shared subscription")
	f(`$queue/x ^x$ z`, "shared subscription")
	f(`x/# ^x$`, "is not a rewrite rule")
	f(`x/# ^x$ z extra`, "is not a rewrite rule")
	if _, err := Compile([]Rule{{Filter: "x", Regexp: "x"}}); err == nil || !strings.Contains(err.Error(), "empty destination") {
		t.Fatalf("empty destination: %v", err)
	}
	r, err := Parse("  x/#\t^x/(.*)$   z/$1 ")
	if err != nil || r != (Rule{Filter: "x/#", Regexp: "^x/(.*)$", Dest: "z/$1"}) {
		t.Fatalf("blanks: %+v %v", r, err)
	}
}

// No rule's filter matching a topic costs no allocation.
func TestApplyNoMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation gate: the race detector allocates")
	}
	rs := mustCompile(t, `x/# ^x/y/(.+)$ z/y/$1`, `y/+/z/# ^y/(.+)/z/(.+)$ y/z/$2`, `$SYS/# ^(.*)$ s/$1`)
	topic := []byte("sensors/building-1/floor-2/temperature")
	if a := testing.AllocsPerRun(1000, func() { rs.Apply(nil, topic) }); a != 0 {
		t.Fatalf("Apply without a matching filter: %v allocations, want 0", a)
	}
}
