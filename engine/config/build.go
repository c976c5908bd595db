package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/codec"
)

// build turns the checked settings into a Config, adding errors for problems that involve
// several keys (a listener's zone must exist, a TLS listener needs a certificate…).
func (l *loader) build() *Config {
	c := &Config{Raw: map[string]string{}, Zones: map[string]*Zone{}}
	for _, d := range theFixed {
		if d.spec.Default != "" && !strings.Contains(d.spec.Key, "$") {
			c.Raw[d.spec.Key] = d.spec.Default
		}
	}
	for _, d := range theZones {
		if s := theSchema.fixed[d.global]; s != nil && s.Default != "" {
			c.Raw[d.global] = s.Default
		}
	}
	c.origins = make(map[string]source, len(l.set))
	for k, s := range l.set {
		c.Raw[k] = s.value
		c.origins[k] = s.src
	}
	l.resolvePaths(c)
	for _, d := range theFixed {
		if d.set == nil {
			continue
		}
		if v, ok := c.Raw[d.spec.Key]; ok {
			d.set(c, mustParse(d.spec, v))
		}
	}
	l.checkHTTPS(c, "management.listener.https", c.Management.HTTPS)

	c.MQTT = *resolveZone(c, "")
	for _, k := range sortedKeys(l.set) {
		if segs := strings.Split(k, "."); segs[0] == "zone" && c.Zones[segs[1]] == nil {
			c.Zones[segs[1]] = resolveZone(c, segs[1])
		}
	}
	l.buildListeners(c)
	l.buildPatterns(c)
	return c
}

// resolvePaths makes every relative path in c.Raw absolute against the home: node.home if
// set, else the loader's. Without a home, paths stay as written.
func (l *loader) resolvePaths(c *Config) {
	home := l.home
	if h := c.Raw["node.home"]; h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			l.fail(l.set["node.home"].src, "node.home", "cannot make "+strconv.Quote(h)+" absolute: "+err.Error())
			return
		}
		home = abs
		c.Raw["node.home"] = abs
	}
	if home == "" {
		return
	}
	if _, ok := c.Raw["node.home"]; !ok {
		c.Raw["node.home"] = home
	}
	for k, v := range c.Raw {
		if v == "" || filepath.IsAbs(v) || k == "node.home" {
			continue
		}
		if s := theSchema.lookup(k); s != nil && s.Type == TypePath {
			c.Raw[k] = filepath.Join(home, v)
		}
	}
}

func (l *loader) checkHTTPS(c *Config, base string, h *HTTPListener) {
	if h == nil || h.Bind != "" {
		return
	}
	for _, k := range sortedKeys(l.set) {
		if strings.HasPrefix(k, base+".") {
			l.fail(l.set[k].src, k, base+" is not set, so this HTTPS listener does not exist")
			return
		}
	}
}

// resolveZone builds zone name ("" for the global mqtt.* settings): each setting comes from
// zone.<name>.<key> if set, else from its global key.
func resolveZone(c *Config, name string) *Zone {
	z := &Zone{Name: name}
	for _, d := range theZones {
		v, ok := "", false
		if name != "" {
			v, ok = c.Raw["zone."+name+"."+d.spec.Key]
		}
		if !ok {
			v, ok = c.Raw[d.global]
		}
		if ok {
			d.set(z, mustParse(d.spec, v))
		}
	}
	return z
}

type listenerID struct {
	kind Kind
	name string
}

func (id listenerID) key() string { return "listener." + string(id.kind) + "." + id.name }

func (l *loader) buildListeners(c *Config) {
	ids := map[listenerID]bool{}
	for _, k := range sortedKeys(l.set) {
		segs := strings.Split(k, ".")
		if segs[0] != "listener" {
			continue
		}
		id := listenerID{Kind(segs[1]), segs[2]}
		if len(segs) == 3 {
			ids[id] = true
		}
	}
	for _, k := range sortedKeys(l.set) {
		segs := strings.Split(k, ".")
		if segs[0] == "listener" && len(segs) > 3 && !ids[listenerID{Kind(segs[1]), segs[2]}] {
			id := listenerID{Kind(segs[1]), segs[2]}
			l.fail(l.set[k].src, k, id.key()+" (its address) is not set, so this listener does not exist")
		}
	}
	// In the order the listeners were written (file, then environment), so that a duplicate
	// address is reported on the later one, deterministically.
	order := make([]listenerID, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := l.set[order[i].key()].src, l.set[order[j].key()].src
		if (a.env == "") != (b.env == "") {
			return a.env == "" // the file's settings first
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return order[i].key() < order[j].key()
	})
	binds := map[string]string{}
	for _, id := range order {
		lis := l.buildListener(c, id)
		c.Listeners = append(c.Listeners, lis)
		src := l.set[id.key()].src
		if lis.Zone != "" && c.Zones[lis.Zone] == nil {
			zsrc := l.set[id.key()+".zone"].src
			l.fail(zsrc, id.key()+".zone", "zone "+strconv.Quote(lis.Zone)+" does not exist (no zone."+lis.Zone+".* key is set; zones: "+strings.Join(sortedKeys(c.Zones), ", ")+")")
		}
		if lis.TLS != nil && len(lis.TLS.PSKCiphers) == 0 && (lis.TLS.CertFile == "" || lis.TLS.KeyFile == "") {
			l.fail(src, id.key(), "a TLS listener needs "+id.key()+".certfile and "+id.key()+".keyfile (or psk_ciphers)")
		}
		if _, port, _ := strings.Cut(lis.Bind[strings.LastIndexByte(lis.Bind, ':'):], ":"); port != "0" {
			if other, dup := binds[lis.Bind]; dup {
				l.fail(src, id.key(), "address "+lis.Bind+" is also used by "+other)
			}
			binds[lis.Bind] = id.key()
		}
	}
	sort.Slice(c.Listeners, func(i, j int) bool {
		a, b := &c.Listeners[i], &c.Listeners[j]
		if a.Kind != b.Kind {
			return kindIndex(a.Kind) < kindIndex(b.Kind)
		}
		return a.Name < b.Name
	})
}

func kindIndex(k Kind) int {
	for i, x := range kinds {
		if x == k {
			return i
		}
	}
	return len(kinds)
}

func (l *loader) buildListener(c *Config, id listenerID) Listener {
	lis := Listener{Kind: id.kind, Name: id.name}
	if id.kind == KindSSL || id.kind == KindWSS {
		lis.TLS = &TLS{}
	}
	if id.kind == KindWS || id.kind == KindWSS {
		lis.WS = &WebSocket{}
	}
	prefix := id.key()
	for _, d := range theListeners {
		if d.set == nil || !kindIn(d.kinds, id.kind) {
			continue
		}
		spec := listenerSpecs[id.kind][d.suffix]
		key := prefix
		if d.suffix != "" {
			key += "." + d.suffix
		}
		v, ok := c.Raw[key]
		if !ok {
			v, ok = spec.Default, spec.Default != ""
		}
		if ok {
			d.set(&lis, mustParse(spec, v))
		}
	}
	for _, n := range l.numbered(prefix + ".access.") {
		lis.Access = append(lis.Access, mustParse(listenerAccessSpec(id.kind), c.Raw[prefix+".access."+n]).(AccessRule))
	}
	return lis
}

// numbered returns the numbers n of the set keys prefix+n, in numeric order.
func (l *loader) numbered(prefix string) []string {
	var ns []string
	for k := range l.set {
		if rest, ok := strings.CutPrefix(k, prefix); ok && isDigits(rest) {
			ns = append(ns, rest)
		}
	}
	sortNumeric(ns)
	return ns
}

func sortNumeric(ns []string) {
	sort.Slice(ns, func(i, j int) bool {
		if len(ns[i]) != len(ns[j]) {
			return len(strings.TrimLeft(ns[i], "0")) < len(strings.TrimLeft(ns[j], "0"))
		}
		return ns[i] < ns[j]
	})
}

// buildPatterns fills the fields that come from pattern keys outside listeners and zones.
func (l *loader) buildPatterns(c *Config) {
	subs := map[string]*ModuleSubscription{}
	var subNs []string
	for _, k := range sortedKeys(l.set) {
		s := l.set[k]
		segs := strings.Split(k, ".")
		switch s.spec.Key {
		case "log.$level.file":
			if c.Log.LevelFiles == nil {
				c.Log.LevelFiles = map[string]string{}
			}
			c.Log.LevelFiles[segs[1]] = s.value
		case "module.subscription.$n.topic", "module.subscription.$n.qos", "module.subscription.$n.nl",
			"module.subscription.$n.rap", "module.subscription.$n.rh":
			n := segs[2]
			if _, ok := l.set["module.subscription."+n+".topic"]; !ok {
				l.fail(s.src, k, "module.subscription."+n+".topic is not set")
				continue
			}
			ms := subs[n]
			if ms == nil {
				ms = &ModuleSubscription{}
				subs[n] = ms
				subNs = append(subNs, n)
			}
			v := mustParse(s.spec, s.value)
			switch segs[3] {
			case "topic":
				ms.Topic = asStr(v)
				// %c and %u stand for one client's id and user name: check the rest.
				probe := strings.NewReplacer("%c", "c", "%u", "u").Replace(ms.Topic)
				if err := codec.ValidTopicFilter([]byte(probe)); err != nil {
					l.fail(s.src, k, fmt.Sprintf("%q is not a topic filter: %s", ms.Topic, strings.TrimPrefix(err.Error(), "codec: ")))
				}
			case "qos":
				ms.QoS = asInt(v)
			case "nl":
				ms.NL = asInt(v)
			case "rap":
				ms.RAP = asInt(v)
			case "rh":
				ms.RH = asInt(v)
			}
		}
	}
	sortNumeric(subNs)
	for _, n := range subNs {
		c.Modules.Subscriptions = append(c.Modules.Subscriptions, *subs[n])
	}
	for _, action := range []string{"", "pub", "sub"} {
		prefix := "module.rewrite.rule."
		if action != "" {
			prefix = "module.rewrite." + action + ".rule."
		}
		for _, n := range l.numbered(prefix) {
			s := l.set[prefix+n]
			r := mustParse(s.spec, s.value).(RewriteRule)
			r.Action = action
			c.Modules.RewriteRules = append(c.Modules.RewriteRules, r)
		}
	}
}
