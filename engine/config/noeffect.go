package config

import (
	"sort"
	"strings"
)

// ownerOrder is the order of the groups on the warning line.
var ownerOrder = []string{OwnerTransports, OwnerNoCert, OwnerGoTLS, OwnerDeflate, OwnerQuota, OwnerManagement, OwnerPluginDir,
	OwnerBridge, OwnerDiscovery, OwnerCluster, OwnerReliability, OwnerQueue, OwnerPersistence, OwnerGnet, OwnerVM}

// NoEffectSummary returns the one line the node logs at warning level at start: every key
// without effect among notes (those with an Owner), grouped by owner, e.g.
//
//	log.single_line (log formatting, ...: not implemented); rpc.* (Erlang cluster tuning: ...)
//
// A family of keys is written prefix.* when every key the schema has under that prefix is
// without effect for the same reason, and keys of the same parent are written with braces:
// node.{max_ports,process_limit}. It returns "" when no note is about such a key.
func NoEffectSummary(notes []Notice) string {
	byOwner := map[string]map[string]bool{}
	for _, n := range notes {
		if n.Owner == "" || n.Key == "" {
			continue
		}
		if byOwner[n.Owner] == nil {
			byOwner[n.Owner] = map[string]bool{}
		}
		byOwner[n.Owner][n.Key] = true
	}
	owners := append([]string(nil), ownerOrder...)
	for o := range byOwner {
		if !contains(owners, o) {
			owners = append(owners, o)
		}
	}
	var groups []string
	for _, o := range owners {
		keys := byOwner[o]
		if len(keys) == 0 {
			continue
		}
		groups = append(groups, strings.Join(abbreviate(sortedKeys(keys), o), ", ")+" ("+o+")")
	}
	return strings.Join(groups, "; ")
}

// abbreviate writes keys (sorted, all without effect for owner) as families and brace groups.
func abbreviate(keys []string, owner string) []string {
	families := map[string]bool{} // prefix -> covered
	bare := map[string]bool{}
	var rest []string
	for _, k := range keys {
		if p := familyOf(k, owner); p != "" {
			families[p] = true
			continue
		}
		rest = append(rest, k)
	}
	// A key that is itself a family's prefix (module.presence beside module.presence.qos)
	// joins the family: prefix*.
	var loose []string
	for _, k := range rest {
		if families[k] {
			bare[k] = true
			continue
		}
		loose = append(loose, k)
	}
	var out []string
	for p := range families {
		if bare[p] {
			out = append(out, p+"*")
		} else {
			out = append(out, p+".*")
		}
	}
	// Siblings share braces: node.{max_ports,process_limit}.
	byParent := map[string][]string{}
	for _, k := range loose {
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			out = append(out, k)
			continue
		}
		byParent[k[:i]] = append(byParent[k[:i]], k[i+1:])
	}
	for parent, leaves := range byParent {
		if len(leaves) == 1 {
			out = append(out, parent+"."+leaves[0])
			continue
		}
		out = append(out, parent+".{"+strings.Join(leaves, ",")+"}")
	}
	sort.Strings(out)
	return out
}

// familyOf returns the shortest proper prefix of key under which every key of the schema is
// without effect for owner, or "".
func familyOf(key, owner string) string {
	segs := strings.Split(key, ".")
	for d := 1; d < len(segs); d++ {
		if familyAllOwned(segs[:d], owner) {
			return strings.Join(segs[:d], ".")
		}
	}
	return ""
}

// familyAllOwned reports whether every spec whose key can start with the concrete segments
// prefix is without effect for owner, and the prefix ends on a literal segment of them.
func familyAllOwned(prefix []string, owner string) bool {
	found := false
	for _, sp := range theSchema.all {
		ps := strings.Split(sp.Key, ".")
		if len(ps) < len(prefix) {
			continue
		}
		match := true
		for i, p := range prefix {
			if !segMatch(ps[i], p) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if ps[len(prefix)-1][0] == '$' {
			return false // a family is named by a literal segment: log.error.file stays itself
		}
		if !sp.NoEffect || sp.Owner != owner {
			return false
		}
		found = true
	}
	return found
}
