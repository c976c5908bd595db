package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValueGood(t *testing.T) {
	f := func(s *Spec, in string, want any) {
		t.Helper()
		got, err := parseValue(s, in)
		if err != nil {
			t.Fatalf("%s %q: unexpected error: %v", s.Type, in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %q: got %#v, want %#v", s.Type, in, got, want)
		}
	}
	f(sp("k", TypeString, "", ""), "hello world", "hello world")
	f(sp("k", TypeString, "", ""), "", "")
	f(sp("k", TypePath, "", ""), "etc/acl.conf", "etc/acl.conf")
	f(sp("k", TypeInt, "", ""), "42", int64(42))
	f(sp("k", TypeInt, "", ""), "-1", int64(-1))
	f(sp("k", TypeInt, "", "").rng(0, 2), "2", int64(2))
	f(sp("k", TypeFloat, "", ""), "0.75", 0.75)
	f(sp("k", TypeBool, "", ""), "true", true)
	f(sp("k", TypeBool, "", ""), "on", true)
	f(sp("k", TypeBool, "", ""), "false", false)
	f(sp("k", TypeBool, "", ""), "off", false)
	f(sp("k", TypeEnum, "", "").enum("a", "b"), "b", "b")

	d := sp("k", TypeDuration, "", "")
	f(d, "30s", 30*time.Second)
	f(d, "1m", time.Minute)
	f(d, "2h", 2*time.Hour)
	f(d, "15d", 15*24*time.Hour)
	f(d, "500ms", 500*time.Millisecond)
	f(d, "1w", 7*24*time.Hour)
	f(d, "1h30m", 90*time.Minute)
	f(d, "0.1s", 100*time.Millisecond)
	f(d, "0", time.Duration(0))
	f(sp("k", TypeDuration, "", "").unit(time.Second), "60", time.Minute)
	f(sp("k", TypeDuration, "", "").unit(time.Millisecond), "5000", 5*time.Second)

	b := sp("k", TypeBytes, "", "")
	f(b, "10MB", int64(10<<20))
	f(b, "64KB", int64(64<<10))
	f(b, "1GB", int64(1<<30))
	f(b, "512B", int64(512))
	f(b, "1024", int64(1024))
	f(b, "10M", int64(10<<20))
	f(b, "1.5KB", int64(1536))

	f(sp("k", TypePercent, "", ""), "80%", 0.8)
	f(sp("k", TypePercent, "", ""), "5%", 0.05)

	a := sp("k", TypeAddr, "", "")
	f(a, "0.0.0.0:1883", "0.0.0.0:1883")
	f(a, "127.0.0.1:11883", "127.0.0.1:11883")
	f(a, "1883", ":1883")
	f(a, "[::1]:1883", "[::1]:1883")
	f(a, "::1:1883", "[::1]:1883")
	f(a, "0", ":0")

	f(sp("k", TypeList, "", ""), "a, b,,c", []string{"a", "b", "c"})
	f(sp("k", TypeList, "", "").enum("tlsv1.2", "tlsv1"), "tlsv1.2,tlsv1", []string{"tlsv1.2", "tlsv1"})
	f(sp("k", TypeRate, "", ""), "10,1m", Rate{Limit: 10, Per: time.Minute})
	f(sp("k", TypeRate, "", ""), "100, 10s", Rate{Limit: 100, Per: 10 * time.Second})
	f(sp("k", TypeByteRate, "", ""), "100KB,10s", Rate{Limit: 100 << 10, Per: 10 * time.Second})
	f(sp("k", TypeByteRate, "", ""), "1024,4096", Rate{Limit: 1024, Per: time.Second, Burst: 4096})
	f(sp("k", TypeGCPolicy, "", ""), "16000|16MB", GCPolicy{Count: 16000, Bytes: 16 << 20})
	f(sp("k", TypeGCPolicy, "", ""), "0|-1", GCPolicy{Count: 0, Bytes: -1})
	f(sp("k", TypeFlapping, "", ""), "30, 1m, 5m", FlappingPolicy{Threshold: 30, Window: time.Minute, Ban: 5 * time.Minute})
	f(sp("k", TypePriorities, "", ""), "none", []TopicPriority(nil))
	f(sp("k", TypePriorities, "", ""), "topic/1=10,topic/2=8", []TopicPriority{{"topic/1", 10}, {"topic/2", 8}})
	f(sp("k", TypeAccess, "", ""), "allow all", AccessRule{Allow: true, All: true})
	f(sp("k", TypeAccess, "", ""), "deny 192.168.1.7/24", AccessRule{Prefix: netip.MustParsePrefix("192.168.1.0/24")})
	f(sp("k", TypeAccess, "", ""), "allow 10.0.0.1", AccessRule{Allow: true, Prefix: netip.MustParsePrefix("10.0.0.1/32")})
	f(sp("k", TypeRewrite, "", ""), `x/# ^x/y/(.+)$ z/y/$1`, RewriteRule{Filter: "x/#", Regexp: `^x/y/(.+)$`, Dest: "z/y/$1"})
}

func TestParseValueBad(t *testing.T) {
	f := func(s *Spec, in, wantMsg string) {
		t.Helper()
		got, err := parseValue(s, in)
		if err == nil {
			t.Fatalf("%s %q: got %#v, want an error", s.Type, in, got)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Fatalf("%s %q: error %q does not contain %q", s.Type, in, err, wantMsg)
		}
	}
	f(sp("k", TypeInt, "", ""), "", "empty value")
	f(sp("k", TypeInt, "", ""), "1.5", `"1.5" is not an integer`)
	f(sp("k", TypeInt, "", ""), "ten", `"ten" is not an integer`)
	f(sp("k", TypeInt, "", "").rng(0, 2), "3", "3 is out of range (expected an integer from 0 to 2)")
	f(sp("k", TypeFloat, "", "").rng(0.5, 100), "0.5", "out of range")
	f(sp("k", TypeFloat, "", ""), "x", `"x" is not a number`)
	f(sp("k", TypeBool, "", ""), "yes", `"yes" is not a boolean (expected true, false, on or off)`)
	f(sp("k", TypeEnum, "", "").enum("random", "round_robin"), "round_robbin", `"round_robbin" is not one of random, round_robin (did you mean "round_robin"?)`)
	f(sp("k", TypeEnum, "", "").enum("a", "b"), "zzzzzz", `"zzzzzz" is not one of a, b`)

	d := sp("k", TypeDuration, "", "")
	f(d, "30", "a unit is needed")
	f(d, "30x", `"30x" is not a duration (expected e.g. 30s, 1m, 2h, 15d, 500ms, 1h30m)`)
	f(d, "s", "is not a duration")
	f(d, "1h 30m", "is not a duration")
	f(d, "-1s", "is not a duration")

	b := sp("k", TypeBytes, "", "")
	f(b, "10XB", `"10XB" is not a byte size (expected e.g. 1MB, 512KB)`)
	f(b, "MB", "is not a byte size")
	f(b, "-1MB", "is not a byte size")
	f(b, "1.5", "is not a byte size")
	f(sp("k", TypeBytes, "", "").rng(1, 1024), "2KB", "out of range")

	f(sp("k", TypePercent, "", ""), "80", `"80" is not a percentage`)
	f(sp("k", TypePercent, "", ""), "180%", "is not a percentage")

	a := sp("k", TypeAddr, "", "")
	f(a, "localhost:1883", `"localhost:1883" is not an address (expected ip:port or port`)
	f(a, "0.0.0.0", "is not an address")
	f(a, "70000", "is not an address")
	f(a, "1.2.3.4:x", "is not an address")
	f(a, "[::1]", "is not an address")

	f(sp("k", TypeList, "", ""), ",,", "is not a list")
	f(sp("k", TypeList, "", "").enum("tlsv1.2"), "tlsv1.2,sslv3", `"sslv3" in "tlsv1.2,sslv3" is not one of tlsv1.2`)
	f(sp("k", TypeRate, "", ""), "10", "is not a rate")
	f(sp("k", TypeRate, "", ""), "x,1s", "is not a rate")
	f(sp("k", TypeRate, "", ""), "10,0s", "is not a rate")
	f(sp("k", TypeByteRate, "", ""), "100XB,10s", "is not a byte rate")
	f(sp("k", TypeGCPolicy, "", ""), "16000", "is not a gc policy")
	f(sp("k", TypeFlapping, "", ""), "30,1m", "is not a flapping policy")
	f(sp("k", TypePriorities, "", ""), "a=300", "is not a priority table")
	f(sp("k", TypePriorities, "", ""), "a", "is not a priority table")
	f(sp("k", TypeAccess, "", ""), "allow", "is not an access rule")
	f(sp("k", TypeAccess, "", ""), "permit all", "is not an access rule")
	f(sp("k", TypeAccess, "", ""), "deny 300.1.1.1", "is not an access rule")
	f(sp("k", TypeRewrite, "", ""), "x/# y", "is not a rewrite rule")
	f(sp("k", TypeRewrite, "", ""), "x/# ^x/( z", "invalid regular expression")
	f(sp("k", TypeRewrite, "", ""), "x/#/y ^x z", `filter "x/#/y" is not a topic filter`)
}

func TestLex(t *testing.T) {
	in := "\ufeff## comment\n# other\n\n  a.b = 1 \r\nc = \"quoted value\"\nd='x'\ne = a=b\nf = sensor/#\nbroken line\nUpper.Key = 1\nbad..key = 1\n"
	ents, errs := Lex("t.conf", []byte(in))
	want := []Entry{{"a.b", "1", 4}, {"c", "quoted value", 5}, {"d", "x", 6}, {"e", "a=b", 7}, {"f", "sensor/#", 8}}
	if !reflect.DeepEqual(ents, want) {
		t.Fatalf("entries: got %+v, want %+v", ents, want)
	}
	wantErrs := []string{
		`t.conf:9: expected key = value, got "broken line"`,
		`t.conf:10: malformed key "Upper.Key": keys are lower case (upper.key)`,
		`t.conf:11: malformed key "bad..key" (expected dot-separated lower-case words, e.g. listener.tcp.external)`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors: got %v, want %v", errs, wantErrs)
	}
	for i, e := range errs {
		if e.Error() != wantErrs[i] {
			t.Fatalf("error %d: got %q, want %q", i, e, wantErrs[i])
		}
	}
}
