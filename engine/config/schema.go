package config

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Spec describes one key of etc/emqx.conf. Keys with wildcard segments stand for a family of
// keys: "$name" matches any name (external, internal, aws…), "$n" a number and "$level" a log
// level, so listener.tcp.$name.acceptors covers listener.tcp.external.acceptors.
//
// Specs are values; the schema hands out copies, so they are safe to read concurrently.
type Spec struct {
	Key      string        // key or pattern, e.g. "zone.$name.idle_timeout"
	Type     Type          // value type
	Default  string        // default as written in etc/emqx.conf; "" means unset
	Enum     []string      // allowed values of TypeEnum, allowed items of TypeList
	Min, Max float64       // bounds of TypeInt (inclusive) and TypeFloat (Min exclusive) if HasRange
	HasRange bool          // whether Min and Max apply
	Unit     time.Duration // TypeDuration: unit of a bare number; 0 means a unit is required
	Doc      string        // one-line description
	// NoEffect marks keys that are accepted for compatibility with EMQX but not acted on
	// (yet): Erlang VM tuning, cluster and RPC settings, features that later work brings.
	// Every such key a configuration sets is reported by a Notice, and the node lists them
	// on one warning line at start (see NoEffectSummary).
	NoEffect bool
	// Owner says why a NoEffect key has no effect: what the broker does instead, or that it
	// is not implemented (e.g. OwnerQuota), or OwnerVM for Erlang VM settings that have no
	// equivalent here.
	Owner string
}

// Owners of the keys accepted without effect: why each one does not act (not implemented,
// or what the broker does instead). They appear on the start-up warning line, which groups the keys by owner.
const (
	OwnerVM          = "Erlang VM setting, no equivalent"
	OwnerTransports  = "listener type not built into this binary"
	OwnerNoCert      = "a plain TCP or WebSocket listener has no client certificate"
	OwnerDeflate     = "permessage-deflate here compresses each outgoing message on its own (server_no_context_takeover, bounded memory per connection) with flate's 32 KiB window and strategy"
	OwnerGoTLS       = "Go's crypto/tls has no such setting: no DH parameters (ECDHE only), never renegotiates, chooses the cipher order itself"
	OwnerPluginDir   = "directory of extra Erlang plugins: the plugins are built into the binary"
	OwnerQuota       = "routing quotas: not implemented (zone publish_limit and rate_limit.* bound a connection)"
	OwnerManagement  = "log formatting, stats switches and management tuning: not implemented"
	OwnerBridge      = "MQTT bridge keys act in etc/plugins/emqx_bridge_mqtt.conf (plugin emqx_bridge_mqtt), not in emqx.conf"
	OwnerDiscovery   = "cluster discovery by mcast, etcd or k8s: not supported (cluster.discovery refuses them at start)"
	OwnerCluster     = "Erlang cluster tuning: the nodes' routes and messages go over NATS"
	OwnerReliability = "acknowledged shared-subscription dispatch: not implemented"
	OwnerGnet        = "set by the event loops: the accept backlog is the system's net.core.somaxconn, SO_REUSEADDR is always on"
	OwnerQueue       = "session queue priorities: not planned yet"
	OwnerPersistence = "superseded by persistence.*"
)

// expected says what values the key takes, for error messages.
func (s *Spec) expected() string {
	switch s.Type {
	case TypeInt, TypeFloat:
		if s.HasRange {
			if s.Type == TypeFloat {
				return fmt.Sprintf("a number > %g and <= %g", s.Min, s.Max)
			}
			return fmt.Sprintf("an integer from %d to %d", int64(s.Min), int64(s.Max))
		}
		return "an " + s.Type.String()
	case TypeEnum:
		return "one of " + strings.Join(s.Enum, ", ")
	case TypeBool:
		return "true, false, on or off"
	case TypeDuration:
		return "a duration, e.g. 30s, 1m, 2h"
	case TypeBytes:
		return "a byte size, e.g. 1MB, 512KB"
	case TypeAddr:
		return "ip:port or port, e.g. 0.0.0.0:1883, 1883"
	case TypeList:
		if len(s.Enum) > 0 {
			return "a comma-separated list of " + strings.Join(s.Enum, ", ")
		}
		return "a comma-separated list"
	}
	return "a " + s.Type.String()
}

// schema is the compiled key table: exact keys first, then patterns.
type schema struct {
	all      []*Spec
	fixed    map[string]*Spec
	patterns []*pattern
}

type pattern struct {
	spec *Spec
	segs []string
}

var logLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

func newSchema(specs []*Spec) *schema {
	s := &schema{fixed: make(map[string]*Spec)}
	for _, sp := range specs {
		if !validKey(strings.NewReplacer("$", "").Replace(sp.Key)) {
			panic("BUG: config: malformed schema key " + sp.Key)
		}
		if sp.Type == TypeEnum && sp.Default != "" && !contains(sp.Enum, sp.Default) {
			panic("BUG: config: default of " + sp.Key + " is not in its enum")
		}
		s.all = append(s.all, sp)
		if strings.Contains(sp.Key, "$") {
			s.patterns = append(s.patterns, &pattern{spec: sp, segs: strings.Split(sp.Key, ".")})
			continue
		}
		if s.fixed[sp.Key] != nil {
			panic("BUG: config: duplicate schema key " + sp.Key)
		}
		s.fixed[sp.Key] = sp
	}
	return s
}

// segMatch reports whether key segment k fits pattern segment p.
func segMatch(p, k string) bool {
	switch p {
	case "$name":
		return true
	case "$n":
		return isDigits(k)
	case "$level":
		return contains(logLevels, k)
	}
	return p == k
}

// lookup finds the spec of a concrete key. Exact keys win over patterns; among patterns the
// one with the most literal segments wins.
func (s *schema) lookup(key string) *Spec {
	if sp := s.fixed[key]; sp != nil {
		return sp
	}
	segs := strings.Split(key, ".")
	var best *Spec
	bestLit := -1
	for _, p := range s.patterns {
		if len(p.segs) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for i, ps := range p.segs {
			if !segMatch(ps, segs[i]) {
				ok = false
				break
			}
			if ps[0] != '$' {
				lit++
			}
		}
		if ok && lit > bestLit {
			best, bestLit = p.spec, lit
		}
	}
	return best
}

// suggest returns the known key closest to an unknown one, or "". Patterns are instantiated
// with the unknown key's own segments so that listener.tcp.external.acceptor suggests
// listener.tcp.external.acceptors.
func (s *schema) suggest(key string) string {
	segs := strings.Split(key, ".")
	best, bestD := "", -1
	limit := maxDistance(key)
	try := func(c string) {
		if abs(len(c)-len(key)) > limit {
			return // cannot be close enough; skipping keeps long files with many typos fast
		}
		d := levenshtein(key, c)
		if bestD < 0 || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	for k := range s.fixed {
		try(k)
	}
	for _, p := range s.patterns {
		c := make([]string, len(p.segs))
		for i, ps := range p.segs {
			c[i] = ps
			if ps[0] == '$' {
				if i < len(segs) && segMatch(ps, segs[i]) {
					c[i] = segs[i]
				} else if ps == "$level" {
					c[i] = "info"
				} else if ps == "$n" {
					c[i] = "1"
				}
			}
		}
		try(strings.Join(c, "."))
	}
	if bestD < 0 || bestD > maxDistance(key) {
		return ""
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func maxDistance(s string) int {
	if d := len(s) / 4; d > 2 {
		return d
	}
	return 2
}

// closest returns the candidate nearest to s by edit distance, if near enough.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := levenshtein(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > maxDistance(s) {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validKey reports whether key is dot-separated lower-case words of [a-z0-9_].
func validKey(key string) bool {
	if key == "" {
		return false
	}
	for _, seg := range strings.Split(key, ".") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Schema returns a copy of every key the loader accepts, grouped in the order of
// etc/emqx.conf. Patterns appear with their wildcard segments. Safe for concurrent use.
func Schema() []Spec {
	out := make([]Spec, len(theSchema.all))
	for i, sp := range theSchema.all {
		out[i] = *sp
		out[i].Enum = append([]string(nil), sp.Enum...)
	}
	return out
}

// Lookup returns the spec that governs a concrete key such as
// "listener.tcp.external.acceptors", and whether the key is known. Safe for concurrent use.
func Lookup(key string) (Spec, bool) {
	sp := theSchema.lookup(key)
	if sp == nil {
		return Spec{}, false
	}
	c := *sp
	c.Enum = append([]string(nil), sp.Enum...)
	return c, true
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
