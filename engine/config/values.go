package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine/rewrite"
)

// Type is the kind of value a key takes. Its String form is the word used in error messages
// and in the schema listing.
type Type int

// The value types of the schema.
const (
	TypeString     Type = iota // any text; quotes around it are removed
	TypePath                   // a file or directory path, relative to the working directory
	TypeInt                    // a decimal integer, optionally bounded by Min/Max
	TypeFloat                  // a decimal number, optionally bounded by Min/Max
	TypeBool                   // true|false|on|off
	TypeEnum                   // one of Spec.Enum
	TypeDuration               // 30s, 1m, 2h, 15d, 1w, 500ms, 1h30m; a bare number in Spec.Unit
	TypeBytes                  // 512B, 64KB, 10MB, 1GB; a bare number is bytes
	TypePercent                // 80% (stored as the fraction 0.8)
	TypeAddr                   // ip:port, [ipv6]:port or a bare port
	TypeList                   // comma-separated words; each one of Spec.Enum when Enum is set
	TypeRate                   // count,duration: 100,10s
	TypeByteRate               // size,duration (100KB,10s) or the old rate,burst in bytes (1024,4096)
	TypeGCPolicy               // count|size: 16000|16MB
	TypeFlapping               // threshold,window,ban: 30,1m,5m
	TypePriorities             // none, or topic=priority pairs: a/1=10,a/2=8
	TypeAccess                 // allow|deny all|ip|cidr: allow 192.168.0.0/24
	TypeRewrite                // topic-filter regexp destination: x/# ^x/y/(.+)$ z/y/$1
)

var typeNames = [...]string{
	TypeString: "string", TypePath: "path", TypeInt: "integer", TypeFloat: "number",
	TypeBool: "boolean", TypeEnum: "enum", TypeDuration: "duration", TypeBytes: "byte size",
	TypePercent: "percentage", TypeAddr: "address", TypeList: "list", TypeRate: "rate",
	TypeByteRate: "byte rate", TypeGCPolicy: "gc policy", TypeFlapping: "flapping policy",
	TypePriorities: "priority table", TypeAccess: "access rule", TypeRewrite: "rewrite rule",
}

// String returns the human name of the type, e.g. "byte size".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Rate is a limit of Limit units (messages or bytes) per Per. The zero Rate means no limit.
// Burst is only set by the old listener form "rate,burst" (bytes per second and bucket size).
type Rate struct {
	Limit int64
	Per   time.Duration
	Burst int64
}

// IsZero reports whether the rate is unset (no limit).
func (r Rate) IsZero() bool { return r == Rate{} }

// GCPolicy is a pair of thresholds, a message count and a byte size, as in "16000|16MB".
// Zero or negative values disable the corresponding threshold.
type GCPolicy struct {
	Count int64
	Bytes int64
}

// FlappingPolicy is flapping_detect_policy: a client id that connects more than Threshold times within
// Window is banned for Ban.
type FlappingPolicy struct {
	Threshold int
	Window    time.Duration
	Ban       time.Duration
}

// TopicPriority is one entry of mqueue_priorities.
type TopicPriority struct {
	Topic    string
	Priority int
}

// AccessRule is a listener access rule ("allow all", "deny 10.0.0.0/8"). All is set for "all";
// otherwise Prefix holds the network (a single address is a /32 or /128 prefix).
type AccessRule struct {
	Allow  bool
	All    bool
	Prefix netip.Prefix
}

// RewriteRule is a topic rewrite rule of the rewrite module: topics matching Filter whose name
// matches Regexp are rewritten to Dest ($1… refer to groups). Action is "", "pub" or "sub".
type RewriteRule struct {
	Action string
	Filter string
	Regexp string
	Dest   string
}

// valueError describes why a value was refused; the caller adds file, line and key.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func badValue(v, what, expected string) error {
	return &valueError{fmt.Sprintf("%q is not %s (expected %s)", v, what, expected)}
}

// parseValue checks v against spec and returns it typed: string, int64, float64, bool,
// time.Duration, []string, Rate, GCPolicy, FlappingPolicy, []TopicPriority, AccessRule or
// RewriteRule. Addresses are returned as a string ready for net.Listen.
func parseValue(s *Spec, v string) (any, error) {
	// An empty value only makes sense for an optional string, where it means "none".
	if v == "" && (s.Type != TypeString || s.Default != "") {
		return nil, &valueError{fmt.Sprintf("empty value (expected %s)", s.expected())}
	}
	switch s.Type {
	case TypeString:
		return v, nil
	case TypePath:
		return v, nil
	case TypeInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badValue(v, "an integer", s.expected())
		}
		if s.HasRange && (float64(n) < s.Min || float64(n) > s.Max) {
			return nil, &valueError{fmt.Sprintf("%d is out of range (expected %s)", n, s.expected())}
		}
		return n, nil
	case TypeFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badValue(v, "a number", s.expected())
		}
		if s.HasRange && (f <= s.Min || f > s.Max) {
			return nil, &valueError{fmt.Sprintf("%s is out of range (expected %s)", v, s.expected())}
		}
		return f, nil
	case TypeBool:
		b, ok := parseBool(v)
		if !ok {
			return nil, badValue(v, "a boolean", "true, false, on or off")
		}
		return b, nil
	case TypeEnum:
		for _, e := range s.Enum {
			if v == e {
				return v, nil
			}
		}
		msg := fmt.Sprintf("%q is not one of %s", v, strings.Join(s.Enum, ", "))
		if sug := closest(v, s.Enum); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return nil, &valueError{msg}
	case TypeDuration:
		d, err := parseDuration(v, s.Unit)
		if err != nil {
			return nil, err
		}
		return d, nil
	case TypeBytes:
		n, ok := parseBytes(v)
		if !ok {
			return nil, badValue(v, "a byte size", "e.g. 1MB, 512KB")
		}
		if s.HasRange && (float64(n) < s.Min || float64(n) > s.Max) {
			return nil, &valueError{fmt.Sprintf("%s is out of range (expected %d to %d bytes)", v, int64(s.Min), int64(s.Max))}
		}
		return n, nil
	case TypePercent:
		f, ok := parsePercent(v)
		if !ok {
			return nil, badValue(v, "a percentage", "e.g. 80%")
		}
		return f, nil
	case TypeAddr:
		a, ok := parseAddr(v)
		if !ok {
			return nil, badValue(v, "an address", "ip:port or port, e.g. 0.0.0.0:1883, 127.0.0.1:11883, 1883, [::1]:1883")
		}
		return a, nil
	case TypeList:
		l := parseList(v)
		if len(l) == 0 {
			return nil, badValue(v, "a list", "comma-separated values")
		}
		if len(s.Enum) > 0 {
			for _, x := range l {
				if !contains(s.Enum, x) {
					return nil, &valueError{fmt.Sprintf("%q in %q is not one of %s", x, v, strings.Join(s.Enum, ", "))}
				}
			}
		}
		return l, nil
	case TypeRate:
		r, ok := parseRate(v, false)
		if !ok {
			return nil, badValue(v, "a rate", "count,duration, e.g. 100,10s")
		}
		return r, nil
	case TypeByteRate:
		r, ok := parseRate(v, true)
		if !ok {
			return nil, badValue(v, "a byte rate", "size,duration, e.g. 100KB,10s")
		}
		return r, nil
	case TypeGCPolicy:
		p, ok := parseGCPolicy(v)
		if !ok {
			return nil, badValue(v, "a gc policy", "count|size, e.g. 16000|16MB")
		}
		return p, nil
	case TypeFlapping:
		p, ok := parseFlapping(v)
		if !ok {
			return nil, badValue(v, "a flapping policy", "threshold,window,ban, e.g. 30,1m,5m")
		}
		return p, nil
	case TypePriorities:
		p, ok := parsePriorities(v)
		if !ok {
			return nil, badValue(v, "a priority table", "none, or topic=priority pairs with priorities 1-255, e.g. a/1=10,a/2=8")
		}
		return p, nil
	case TypeAccess:
		r, ok := parseAccess(v)
		if !ok {
			return nil, badValue(v, "an access rule", "allow|deny followed by all, an IP or a CIDR, e.g. allow 192.168.0.0/24")
		}
		return r, nil
	case TypeRewrite:
		r, err := parseRewrite(v)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	panic(fmt.Sprintf("BUG: config: unhandled type %v for %s", s.Type, s.Key))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseBool(v string) (bool, bool) {
	switch v {
	case "true", "on":
		return true, true
	case "false", "off":
		return false, true
	}
	return false, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitNumber splits a leading decimal number (digits with an optional fraction) from s.
func splitNumber(s string) (num, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return s[:i], s[i:]
}

var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// parseDuration parses "30s", "1h30m", "500ms", "0.1s", "15d", "1w". A bare number is taken in
// unit; with unit 0 only a bare 0 is accepted.
func parseDuration(v string, unit time.Duration) (time.Duration, error) {
	bad := func() error {
		return badValue(v, "a duration", "e.g. 30s, 1m, 2h, 15d, 500ms, 1h30m")
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, bad()
		}
		if n == 0 {
			return 0, nil
		}
		if unit == 0 {
			return 0, &valueError{fmt.Sprintf("%q is not a duration: a unit is needed (expected e.g. %ss, %sm)", v, v, v)}
		}
		if n > math.MaxInt64/int64(unit) {
			return 0, bad()
		}
		return time.Duration(n) * unit, nil
	}
	var total float64
	rest := v
	for rest != "" {
		num, r := splitNumber(rest)
		if num == "" {
			return 0, bad()
		}
		j := 0
		for j < len(r) && r[j] >= 'a' && r[j] <= 'z' {
			j++
		}
		u, ok := durationUnits[r[:j]]
		if !ok {
			return 0, bad()
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, bad()
		}
		total += f * float64(u)
		rest = r[j:]
	}
	if total >= math.MaxInt64 {
		return 0, bad()
	}
	return time.Duration(math.Round(total)), nil
}

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40,
}

// parseBytes parses a size in bytes with an optional binary unit (1KB = 1024 bytes).
func parseBytes(v string) (int64, bool) {
	num, rest := splitNumber(v)
	if num == "" {
		return 0, false
	}
	mul, ok := byteUnits[strings.ToLower(rest)]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, false
	}
	f *= float64(mul)
	if f >= math.MaxInt64 || (rest == "" || mul == 1) && strings.Contains(num, ".") {
		return 0, false
	}
	return int64(f), true
}

func parsePercent(v string) (float64, bool) {
	num, rest := splitNumber(v)
	if num == "" || rest != "%" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f > 100 {
		return 0, false
	}
	return f / 100, true
}

// parseAddr turns "ip:port", "[ipv6]:port", "ipv6:port" (split at the last colon, as EMQX does)
// or a bare port into an address for net.Listen. A bare port listens on every interface.
func parseAddr(v string) (string, bool) {
	var host, port string
	switch {
	case isDigits(v):
		port = v
	case strings.HasPrefix(v, "["):
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return "", false
		}
		host, port = h, p
	default:
		i := strings.LastIndexByte(v, ':')
		if i < 0 {
			return "", false
		}
		host, port = v[:i], v[i+1:]
	}
	if !isDigits(port) {
		return "", false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p > 65535 {
		return "", false
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return "", false
		}
		host = a.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), true
}

func parseList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func parseRate(v string, bytes bool) (Rate, bool) {
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		return Rate{}, false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	var n int64
	if bytes {
		if n, ok = parseBytes(a); !ok {
			return Rate{}, false
		}
		if isDigits(b) {
			// The EMQX 2.x/3.0 form "rate,burst": bytes per second and bucket size.
			burst, err := strconv.ParseInt(b, 10, 64)
			if err != nil || n <= 0 {
				return Rate{}, false
			}
			return Rate{Limit: n, Per: time.Second, Burst: burst}, true
		}
	} else {
		var err error
		if n, err = strconv.ParseInt(a, 10, 64); err != nil {
			return Rate{}, false
		}
	}
	d, err := parseDuration(b, time.Second)
	if err != nil || n <= 0 || d <= 0 {
		return Rate{}, false
	}
	return Rate{Limit: n, Per: d}, true
}

func parseSigned(s string, size bool) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var n int64
	if size {
		var ok bool
		if n, ok = parseBytes(s); !ok {
			return 0, false
		}
	} else {
		var err error
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func parseGCPolicy(v string) (GCPolicy, bool) {
	a, b, ok := strings.Cut(v, "|")
	if !ok {
		return GCPolicy{}, false
	}
	c, ok1 := parseSigned(strings.TrimSpace(a), false)
	s, ok2 := parseSigned(strings.TrimSpace(b), true)
	return GCPolicy{Count: c, Bytes: s}, ok1 && ok2
}

func parseFlapping(v string) (FlappingPolicy, bool) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return FlappingPolicy{}, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n <= 0 {
		return FlappingPolicy{}, false
	}
	w, err1 := parseDuration(strings.TrimSpace(parts[1]), time.Second)
	b, err2 := parseDuration(strings.TrimSpace(parts[2]), time.Second)
	if err1 != nil || err2 != nil {
		return FlappingPolicy{}, false
	}
	return FlappingPolicy{Threshold: n, Window: w, Ban: b}, true
}

func parsePriorities(v string) ([]TopicPriority, bool) {
	if v == "none" {
		return nil, true
	}
	var out []TopicPriority
	for _, pair := range parseList(v) {
		t, p, ok := strings.Cut(pair, "=")
		t, p = strings.TrimSpace(t), strings.TrimSpace(p)
		n, err := strconv.Atoi(p)
		if !ok || t == "" || err != nil || n < 1 || n > 255 {
			return nil, false
		}
		out = append(out, TopicPriority{Topic: t, Priority: n})
	}
	return out, len(out) > 0
}

func parseAccess(v string) (AccessRule, bool) {
	f := strings.Fields(v)
	if len(f) != 2 || (f[0] != "allow" && f[0] != "deny") {
		return AccessRule{}, false
	}
	r := AccessRule{Allow: f[0] == "allow"}
	if f[1] == "all" {
		r.All = true
		return r, true
	}
	if strings.Contains(f[1], "/") {
		p, err := netip.ParsePrefix(f[1])
		if err != nil {
			return AccessRule{}, false
		}
		r.Prefix = p.Masked()
		return r, true
	}
	a, err := netip.ParseAddr(f[1])
	if err != nil {
		return AccessRule{}, false
	}
	r.Prefix = netip.PrefixFrom(a, a.BitLen())
	return r, true
}

func parseRewrite(v string) (RewriteRule, error) {
	// The rewrite package checks what the engine will compile: the filter, the expression
	// and the destination.
	r, err := rewrite.Parse(v)
	if err != nil {
		return RewriteRule{}, &valueError{err.Error()}
	}
	return RewriteRule{Filter: r.Filter, Regexp: r.Regexp, Dest: r.Dest}, nil
}
