package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/etc"
)

// TestDefaultFileEqualsDefault keeps etc/emqx.conf and the code in step.
func TestDefaultFileEqualsDefault(t *testing.T) {
	c, notes, err := Load("", nil)
	if err != nil {
		t.Fatalf("embedded etc/emqx.conf does not load:\n%v", err)
	}
	for _, n := range notes {
		if n.Owner == "" {
			t.Errorf("embedded etc/emqx.conf yields a notice about something else than a key without effect: %v", n)
		}
	}
	d := Default()
	c.origins, d.origins = nil, nil // lines of the file, and none for Default
	if !reflect.DeepEqual(c, d) {
		for k, v := range c.Raw {
			if d.Raw[k] != v {
				t.Errorf("Raw[%s]: file %q, Default %q", k, v, d.Raw[k])
			}
		}
		for k, v := range d.Raw {
			if _, ok := c.Raw[k]; !ok {
				t.Errorf("Raw[%s]: Default %q, missing from the file", k, v)
			}
		}
		t.Fatalf("embedded etc/emqx.conf differs from Default()")
	}
}

// TestDefaultFileSetsEveryKey checks that every non-pattern key with a default appears in
// etc/emqx.conf, so the file documents everything.
func TestDefaultFileSetsEveryKey(t *testing.T) {
	ents, errs := Lex("emqx.conf", []byte(etc.EmqxConf))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set := map[string]bool{}
	for _, e := range ents {
		set[e.Key] = true
	}
	for _, s := range Schema() {
		if s.Default != "" && !strings.Contains(s.Key, "$") && !set[s.Key] {
			t.Errorf("%s (default %q) is not set in etc/emqx.conf", s.Key, s.Default)
		}
	}
}

func TestDefaultValues(t *testing.T) {
	c := Default()
	f := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", name, got, want)
		}
	}
	f("node.name", c.Node.Name, "emqx@127.0.0.1")
	f("allow_anonymous", c.MQTT.AllowAnonymous, true)
	f("acl_nomatch", c.ACL.NoMatch, "allow")
	f("acl_file", c.ACL.File, "etc/acl.conf")
	f("broker.sys_interval", c.Broker.SysInterval, time.Minute)
	f("broker.shared_subscription_strategy", c.Broker.SharedSubscriptionStrategy, "random")
	f("mqtt.max_packet_size", c.MQTT.MaxPacketSize, int64(1<<20))
	f("retainer.storage_type", c.Retainer.StorageType, "ram")
	f("persistence", c.Persistence, Persistence{Enable: true, Dir: "data/store", Fsync: "interval",
		FsyncInterval: 100 * time.Millisecond, SegmentSize: 64 << 20, CompactRatio: 0.5, CompactMinSize: 16 << 20})
	f("management.listener.http", c.Management.HTTP.Bind, ":8080")
	f("management app", c.Management.AppID+":"+c.Management.AppSecret, "admin:public")
	f("management https", c.Management.HTTPS, (*HTTPListener)(nil))
	var binds []string
	for _, l := range c.Listeners {
		binds = append(binds, string(l.Kind)+"."+l.Name+"="+l.Bind+"@"+l.Zone)
	}
	f("listeners", binds, []string{"tcp.external=0.0.0.0:1883@external", "tcp.internal=127.0.0.1:11883@internal",
		"ssl.external=:8883@external", "ws.external=:8083@external", "wss.external=:8084@external"})
	f("zones", sortedKeys(c.Zones), []string{"external", "internal"})
	f("ssl certfile", c.Listeners[2].TLS.CertFile, "etc/certs/cert.pem")
	f("ws path", c.Listeners[3].WS.Path, "/mqtt")
	f("internal enable_acl", c.Zones["internal"].EnableACL, false)
	f("external enable_acl", c.Zones["external"].EnableACL, true)
	f("access", c.Listeners[0].Access, []AccessRule{{Allow: true, All: true}})
	f("Get", must(c.Get("mqtt.max_packet_size")), "1MB")
	if _, ok := c.Get("no.such.key"); ok {
		t.Fatal("Get of an unknown key reports ok")
	}
	if c.ZoneOf(&c.Listeners[1]) != c.Zones["internal"] {
		t.Fatal("ZoneOf(tcp.internal) is not the internal zone")
	}
	if z := c.ZoneOf(&Listener{}); z != &c.MQTT {
		t.Fatal("ZoneOf(listener without zone) is not the global zone")
	}
}

func must(s string, _ bool) string { return s }

// parseErr parses in and returns the error text; it fails if parsing succeeds.
func parseErr(t *testing.T, in string, env ...string) string {
	t.Helper()
	_, _, err := Parse("test.conf", []byte(in), env)
	if err == nil {
		t.Fatalf("Parse(%q) succeeded, want an error", in)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList", err)
	}
	return err.Error()
}

func TestErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := parseErr(t, in); got != want {
			t.Fatalf("Parse(%q):\n got: %s\nwant: %s", in, got, want)
		}
	}
	f("mqtt.max_packet_size = 10XB", `test.conf:1: mqtt.max_packet_size: "10XB" is not a byte size (expected e.g. 1MB, 512KB)`)
	f("\n\nmqtt.max_packet_sise = 1MB", `test.conf:3: mqtt.max_packet_sise: unknown key (did you mean mqtt.max_packet_size?)`)
	f("listener.tcp.external = 1883\nlistener.tcp.external.acceptor = 8", `test.conf:2: listener.tcp.external.acceptor: unknown key (did you mean listener.tcp.external.acceptors?)`)
	f("zone.external.idle_timout = 15s", `test.conf:1: zone.external.idle_timout: unknown key (did you mean zone.external.idle_timeout?)`)
	f("totally.unrelated.thing = 1", `test.conf:1: totally.unrelated.thing: unknown key`)
	f("log.level = info\nlog.level = debug", `test.conf:2: log.level: duplicate key (first set at line 1)`)
	f("log.level = verbose", `test.conf:1: log.level: "verbose" is not one of debug, info, notice, warning, error, critical, alert, emergency`)
	f("broker.sys_interval = 60", `test.conf:1: broker.sys_interval: "60" is not a duration: a unit is needed (expected e.g. 60s, 60m)`)
	f("allow_anonymous = yes", `test.conf:1: allow_anonymous: "yes" is not a boolean (expected true, false, on or off)`)
	f("listener.tcp.x = localhost:1883", `test.conf:1: listener.tcp.x: "localhost:1883" is not an address (expected ip:port or port, e.g. 0.0.0.0:1883, 127.0.0.1:11883, 1883, [::1]:1883)`)
	f("mqtt.max_qos_allowed = 3", `test.conf:1: mqtt.max_qos_allowed: 3 is out of range (expected an integer from 0 to 2)`)
	f("node.name =", `test.conf:1: node.name: empty value (expected a string)`)
	f("listener.tcp.a = 1883\nlistener.tcp.a.zone = nowhere", `test.conf:2: listener.tcp.a.zone: zone "nowhere" does not exist (no zone.nowhere.* key is set; zones: )`)
	f("listener.tcp.a.acceptors = 4", `test.conf:1: listener.tcp.a.acceptors: listener.tcp.a (its address) is not set, so this listener does not exist`)
	f("listener.ssl.a = 8883", `test.conf:1: listener.ssl.a: a TLS listener needs listener.ssl.a.certfile and listener.ssl.a.keyfile (or psk_ciphers)`)
	f("listener.tcp.a = 1883\nlistener.tcp.b = 1883", `test.conf:2: listener.tcp.b: address :1883 is also used by listener.tcp.a`)
	f("management.listener.https.certfile = c.pem", `test.conf:1: management.listener.https.certfile: management.listener.https is not set, so this HTTPS listener does not exist`)
	f("module.subscription.1.qos = 1", `test.conf:1: module.subscription.1.qos: module.subscription.1.topic is not set`)
	f("module.rewrite.rule.1 = x/# ^x/(.+$ z/$1", `test.conf:1: module.rewrite.rule.1: rewrite rule "x/# ^x/(.+$ z/$1": invalid regular expression: error parsing regexp: missing closing ): `+"`^x/(.+$`")
	f("\nmodule.rewrite.pub.rule.2 = x/#/y ^x z", `test.conf:2: module.rewrite.pub.rule.2: rewrite rule "x/#/y ^x z": filter "x/#/y" is not a topic filter: multi-level wildcard '#' not last [MQTT-4.7.1-1]`)
	f("module.subscription.1.topic = a/%c#", `test.conf:1: module.subscription.1.topic: "a/%c#" is not a topic filter: wildcard not alone in its topic level [MQTT-4.7.1-1] [MQTT-4.7.1-2]`)
	f("just some words", `test.conf:1: expected key = value, got "just some words"`)
}

func TestErrorsCollected(t *testing.T) {
	in := strings.Join([]string{
		"mqtt.max_packet_size = 10XB", // 1
		"# fine",                      // 2
		"log.levle = info",            // 3
		"Bad.Key = 1",                 // 4
		"log.to = both",               // 5
		"log.to = file",               // 6
	}, "\n")
	got := parseErr(t, in, "EMQX_LOG__LEVEL=loud")
	want := strings.Join([]string{
		`test.conf:1: mqtt.max_packet_size: "10XB" is not a byte size (expected e.g. 1MB, 512KB)`,
		`test.conf:3: log.levle: unknown key (did you mean log.level?)`,
		`test.conf:4: malformed key "Bad.Key": keys are lower case (bad.key)`,
		`test.conf:6: log.to: duplicate key (first set at line 5)`,
		`environment variable EMQX_LOG__LEVEL: log.level: "loud" is not one of debug, info, notice, warning, error, critical, alert, emergency`,
	}, "\n")
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	_, _, err := Parse("test.conf", []byte(in), nil)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 4 || list[2].Line != 4 || list[0].Key != "mqtt.max_packet_size" || list[0].File != "test.conf" {
		t.Fatalf("ErrorList: %#v", list)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 1 {
		t.Fatalf("errors.As(*Error): %#v", one)
	}
}

func TestEnv(t *testing.T) {
	env := []string{
		"PATH=/bin",
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:11884",
		"EMQX_ZONE__EXTERNAL__IDLE_TIMEOUT=20s",
		"EMQX_ALLOW_ANONYMOUS=false",
		"EMQX_MQTT__MAX_PACKET_SIZE=\"2MB\"",
		"EMQX_NAME=emqx",
		"EMQX_HOST=127.0.0.1",
		"EMQX_NODE__NAME=n1@10.0.0.1",
	}
	c, notes, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listeners[0].Bind != "127.0.0.1:11884" || c.Zones["external"].IdleTimeout != 20*time.Second ||
		c.MQTT.AllowAnonymous || c.MQTT.MaxPacketSize != 2<<20 || c.Zones["internal"].MaxPacketSize != 2<<20 ||
		c.Node.Name != "n1@10.0.0.1" || c.Raw["listener.tcp.external"] != "127.0.0.1:11884" {
		t.Fatalf("env overrides not applied: %+v", c.Listeners[0])
	}
	// allow_anonymous is the fallback of the zones' allow_anonymous; internal sets its own.
	if c.Zones["external"].AllowAnonymous || !c.Zones["internal"].AllowAnonymous {
		t.Fatal("allow_anonymous does not reach the zones")
	}
	var msgs []string
	for _, n := range notes {
		if n.Owner == "" {
			msgs = append(msgs, n.String())
		}
	}
	want := []string{
		"environment variable EMQX_NAME: not a config key; ignored",
		"environment variable EMQX_HOST: not a config key; ignored",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("notices: got %q, want %q", msgs, want)
	}

	f := func(envVar, want string) {
		t.Helper()
		if got := parseErr(t, "", envVar); got != want {
			t.Fatalf("%s:\n got: %s\nwant: %s", envVar, got, want)
		}
	}
	f("EMQX_ZONE__EXTERNAL__IDLE_TIMEOUT=soon", `environment variable EMQX_ZONE__EXTERNAL__IDLE_TIMEOUT: zone.external.idle_timeout: "soon" is not a duration (expected e.g. 30s, 1m, 2h, 15d, 500ms, 1h30m)`)
	f("EMQX_LISTENER__TCP__EXTERNAL__ACCEPTOR=8", `environment variable EMQX_LISTENER__TCP__EXTERNAL__ACCEPTOR: listener.tcp.external.acceptor: unknown key (did you mean EMQX_LISTENER__TCP__EXTERNAL__ACCEPTORS?)`)
	f("EMQX_NO__SUCH=1", `environment variable EMQX_NO__SUCH: no.such: unknown key`)

	// A near miss without "__" is ignored, with a hint.
	_, notes, err = Parse("empty", nil, []string{"EMQX_ALLOW_ANONYMOS=false"})
	if err != nil || len(notes) != 1 || notes[0].String() != "environment variable EMQX_ALLOW_ANONYMOS: not a config key; ignored (did you mean EMQX_ALLOW_ANONYMOUS?)" {
		t.Fatalf("notices %v, err %v", notes, err)
	}
}

func TestZones(t *testing.T) {
	in := `
mqtt.max_packet_size = 2MB
mqtt.max_inflight = 64
zone.a.max_packet_size = 64KB
zone.b.idle_timeout = 5s
zone.b.publish_limit = 10,1m
zone.b.mountpoint = "dev/%c/"
listener.tcp.a = 1883
listener.tcp.a.zone = a
listener.tcp.b = 1884
listener.tcp.b.zone = b
listener.tcp.g = 1885
`
	c, _, err := Parse("zones.conf", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Zones["a"], c.Zones["b"]
	f := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", name, got, want)
		}
	}
	f("a.max_packet_size (zone value)", a.MaxPacketSize, int64(64<<10))
	f("b.max_packet_size (mqtt value)", b.MaxPacketSize, int64(2<<20))
	f("a.max_inflight (mqtt value)", a.MaxInflight, 64)
	f("b.idle_timeout", b.IdleTimeout, 5*time.Second)
	f("a.idle_timeout (mqtt default)", a.IdleTimeout, 15*time.Second)
	f("b.publish_limit", b.PublishLimit, Rate{Limit: 10, Per: time.Minute})
	f("b.mountpoint", b.Mountpoint, "dev/%c/")
	f("b.allow_anonymous (top-level)", b.AllowAnonymous, true)
	f("zone names", []string{a.Name, b.Name}, []string{"a", "b"})
	f("global zone of g", c.ZoneOf(&c.Listeners[2]).MaxPacketSize, int64(2<<20))
	f("ZoneOf(b)", c.ZoneOf(&c.Listeners[1]), b)
	// Unset zone keys are not in Raw; mqtt.* ones are, with defaults.
	if _, ok := c.Get("zone.a.idle_timeout"); ok {
		t.Fatal("unset zone key is in Raw")
	}
	f("Get mqtt.idle_timeout", must(c.Get("mqtt.idle_timeout")), "15s")
}

func TestListenersAndModules(t *testing.T) {
	in := `
zone.external.idle_timeout = 15s
listener.wss.w = [::1]:8084
listener.wss.w.keyfile = k.pem
listener.wss.w.certfile = c.pem
listener.wss.w.access.10 = allow all
listener.wss.w.access.2 = deny 10.0.0.0/8
listener.wss.w.tls_versions = tlsv1.3,tlsv1.2
listener.wss.w.verify = verify_peer
listener.wss.w.rate_limit = 1024,4096
listener.ssl.p = 8883
listener.ssl.p.psk_ciphers = PSK-AES128-CBC-SHA
listener.tcp.t = 1883
listener.tcp.t.zone = external
log.error.file = error.log
log.info.file = info.log
module.subscription = on
module.subscription.10.topic = b/%u
module.subscription.2.topic = a/%c
module.subscription.2.qos = 2
module.rewrite.sub.rule.1 = y/+/z/# ^y/(.+)/z/(.+)$ y/z/$2
module.rewrite.rule.1 = x/# ^x/y/(.+)$ z/y/$1
management.listener.https = 8081
management.listener.https.certfile = c.pem
`
	c, _, err := Parse("l.conf", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", name, got, want)
		}
	}
	var order []string
	for _, l := range c.Listeners {
		order = append(order, string(l.Kind)+"."+l.Name)
	}
	f("order", order, []string{"tcp.t", "ssl.p", "wss.w"})
	w := c.Listeners[2]
	f("wss bind", w.Bind, "[::1]:8084")
	f("wss access order", w.Access, []AccessRule{{Prefix: netip.MustParsePrefix("10.0.0.0/8")}, {Allow: true, All: true}})
	f("wss tls", []any{w.TLS.Versions, w.TLS.VerifyPeer, w.TLS.HandshakeTimeout, w.TLS.KeyFile}, []any{[]string{"tlsv1.3", "tlsv1.2"}, true, 15 * time.Second, "k.pem"})
	f("wss ws defaults", *w.WS, WebSocket{Path: "/mqtt", VerifyProtocolHeader: true, Piggyback: "multiple", AllowOriginAbsence: true})
	f("wss rate", w.RateLimit, Rate{Limit: 1024, Per: time.Second, Burst: 4096})
	f("wss defaults", []int{w.Acceptors, w.MaxConnections, w.Backlog}, []int{4, 102400, 1024})
	f("ssl defaults", []int{c.Listeners[1].Acceptors, c.Listeners[1].MaxConnRate}, []int{16, 500})
	f("tcp has no TLS", c.Listeners[0].TLS, (*TLS)(nil))
	f("level files", c.Log.LevelFiles, map[string]string{"error": "error.log", "info": "info.log"})
	f("subscriptions", c.Modules.Subscriptions, []ModuleSubscription{{Topic: "a/%c", QoS: 2}, {Topic: "b/%u"}})
	f("rewrite", c.Modules.RewriteRules, []RewriteRule{
		{Filter: "x/#", Regexp: `^x/y/(.+)$`, Dest: "z/y/$1"},
		{Action: "sub", Filter: "y/+/z/#", Regexp: `^y/(.+)/z/(.+)$`, Dest: "y/z/$2"},
	})
	h := c.Management.HTTPS
	if h == nil || h.Bind != ":8081" || h.CertFile != "c.pem" || h.MaxClients != 512 {
		t.Fatalf("management https: %+v", h)
	}
}

func TestNoEffectNotices(t *testing.T) {
	in := "node.process_limit = 100000\nnode.async_threads = 32\nrpc.mode = sync\nlistener.tcp.x = 1\nlistener.tcp.x.active_n = 7\nmqtt.max_inflight = 10\n"
	_, notes, err := Parse("n.conf", []byte(in), []string{"EMQX_OS_MON__PROCMEM_HIGH_WATERMARK=9%", "EMQX_NAME=x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range notes {
		got = append(got, n.String())
	}
	want := []string{
		"n.conf:1: node.process_limit: accepted without effect (Erlang VM setting, no equivalent)",
		"n.conf:2: node.async_threads: accepted without effect (Erlang VM setting, no equivalent)",
		"n.conf:3: rpc.mode: accepted without effect (Erlang cluster tuning: the nodes' routes and messages go over NATS)",
		"n.conf:5: listener.tcp.x.active_n: accepted without effect (Erlang VM setting, no equivalent)",
		"environment variable EMQX_NAME: not a config key; ignored",
		"environment variable EMQX_OS_MON__PROCMEM_HIGH_WATERMARK: os_mon.procmem_high_watermark: accepted without effect (Erlang VM setting, no equivalent)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("notices:\n got %q\nwant %q", got, want)
	}
	sum := NoEffectSummary(notes)
	wantSum := "rpc.mode (Erlang cluster tuning: the nodes' routes and messages go over NATS); listener.tcp.x.active_n, node.{async_threads,process_limit}, os_mon.procmem_high_watermark (Erlang VM setting, no equivalent)"
	if sum != wantSum {
		t.Fatalf("summary:\n got %q\nwant %q", sum, wantSum)
	}
}

// TestNoEffectSummaryOfDefaultFile checks the warning line of the shipped configuration
// names the families by owner, and nothing that acts.
var rpcGroup = regexp.MustCompile(`rpc\.\{[^}]*\}`)

func TestNoEffectSummaryOfDefaultFile(t *testing.T) {
	_, notes, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := NoEffectSummary(notes)
	for _, want := range []string{
		"management.listener.http.{acceptors,backlog,send_timeout_close}", "management.max_row_limit", "rpc.{async_batch_size,", "plugins.expand_plugins_dir",
		"node.{async_threads,", "os_mon.procmem_high_watermark",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	for _, acts := range []string{"listener.tcp.external,", "listener.ssl.*", "listener.ws.*", "listener.wss.*", "listener.wss.external.certfile", "listener.wss.external.mqtt_path", "listener.ws.external.mqtt_path", "listener.ws.external.max_connections", "listener.ssl.external.certfile", "listener.ssl.external.ciphers",
		"listener.tcp.external.max_inflight", "mqtt.max_inflight", "sysmon.busy_dist_port", "node.name", "node.data_dir", "persistence.fsync", "persistence.dir",
		"management.listener.http,", "max_clients", "send_timeout,", "inet6", "default_application", "plugins.etc_dir", "plugins.loaded_file", "sysmon.long_schedule", "sysmon.busy_port", "os_mon.cpu", "management.listener.https"} {
		// rpc.{…} (gen_rpc's tuning keys) is cut out: its send_timeout is not a listener's.
		if strings.Contains(rpcGroup.ReplaceAllString(sum, ""), acts) {
			t.Errorf("summary lists %q, which acts:\n%s", acts, sum)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "emqx.conf")
	if err := os.WriteFile(p, []byte("log.level = debug\nbad.key = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(p, nil)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: bad.key: unknown key") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.conf"), nil); err == nil || !strings.Contains(err.Error(), "cannot read config file") {
		t.Fatalf("missing file: %v", err)
	}
	_, _, err = Load("", []string{"EMQX_LOG__LEVEL=x"})
	if err == nil || !strings.Contains(err.Error(), "EMQX_LOG__LEVEL") {
		t.Fatalf("embedded + bad env: %v", err)
	}
}

func TestSchemaLookup(t *testing.T) {
	f := func(key, pattern string) {
		t.Helper()
		s, ok := Lookup(key)
		if pattern == "" {
			if ok {
				t.Fatalf("Lookup(%q) = %s, want unknown", key, s.Key)
			}
			return
		}
		if !ok || s.Key != pattern {
			t.Fatalf("Lookup(%q) = %q, %v; want %q", key, s.Key, ok, pattern)
		}
	}
	f("node.name", "node.name")
	f("listener.tcp.external", "listener.tcp.$name")
	f("listener.tcp.external.acceptors", "listener.tcp.$name.acceptors")
	f("listener.tcp.external.access.1", "listener.tcp.$name.access.$n")
	f("listener.tcp.external.access.x", "")
	f("listener.ws.w.deflate_opts.level", "listener.ws.$name.deflate_opts.level")
	f("listener.tcp.w.mqtt_path", "")
	f("log.info.file", "log.$level.file")
	f("log.verbose.file", "")
	f("log.rotation.size", "log.rotation.size")
	f("zone.x.rate_limit.conn_bytes_in", "zone.$name.rate_limit.conn_bytes_in")
	f("bridge.mqtt.aws.subscription.1.topic", "bridge.mqtt.$name.subscription.$n.topic")
	s, _ := Lookup("listener.ssl.external.acceptors")
	if s.Default != "16" || !s.NoEffect {
		t.Fatalf("ssl acceptors spec: %+v", s)
	}
	for _, s := range Schema() {
		if s.Doc == "" {
			t.Errorf("%s has no doc", s.Key)
		}
	}
}

func TestEMQX32File(t *testing.T) {
	data, err := os.ReadFile("testdata/emqx-3.2.conf")
	if err != nil {
		t.Fatal(err)
	}
	c, notes, err := Parse("emqx-3.2.conf", data, nil)
	if err != nil {
		t.Fatalf("an EMQX 3.2 file is refused:\n%v", err)
	}
	f := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", name, got, want)
		}
	}
	ext := c.Zones["external"]
	f("node.name", c.Node.Name, "emqx@10.0.0.5")
	f("acl", []any{c.MQTT.AllowAnonymous, c.ACL.NoMatch, c.ACL.File, c.MQTT.ACLDenyAction}, []any{false, "deny", "/etc/emqx/acl.conf", "disconnect"})
	f("external.publish_limit", ext.PublishLimit, Rate{Limit: 100, Per: 10 * time.Second})
	f("external.max_packet_size", ext.MaxPacketSize, int64(64<<10))
	f("external.mqueue_priorities", ext.MqueuePriorities, []TopicPriority{{"topic/1", 10}, {"topic/2", 8}})
	f("external.allow_anonymous", ext.AllowAnonymous, false)
	f("external.acl_deny_action", ext.ACLDenyAction, "ignore")
	f("internal.max_topic_alias (mqtt)", c.Zones["internal"].MaxTopicAlias, 0)
	f("internal.mountpoint", c.Zones["internal"].Mountpoint, "cloudbound/")
	f("tcp.external rate_limit", c.Listeners[0].RateLimit, Rate{Limit: 100 << 10, Per: 10 * time.Second})
	f("tcp.external proxy_protocol", c.Listeners[0].ProxyProtocol, true)
	f("ssl verify", c.Listeners[2].TLS.VerifyPeer, true)
	f("ws compress", c.Listeners[3].WS.Compress, true)
	f("wss max_connections", c.Listeners[4].MaxConnections, 16)
	f("log", []any{c.Log.To, c.Log.Level, c.Log.CharsLimit, c.Log.LevelFiles["error"]}, []any{"file", "info", 8192, "error.log"})
	f("modules", []any{len(c.Modules.Subscriptions), len(c.Modules.RewriteRules)}, []any{2, 2})
	f("strategy", c.Broker.SharedSubscriptionStrategy, "round_robin")
	f("Raw", must(c.Get("cluster.k8s.namespace")), "default")
	// Every key without effect that the file sets is on the warning line, by owner.
	sum := NoEffectSummary(notes)
	for _, want := range []string{"cluster.etcd.*, cluster.k8s.*, cluster.mcast.* (" + OwnerDiscovery + ")", "rpc.{async_batch_size,", "listener.ssl.external.{dhfile,honor_cipher_order,secure_renegotiate}, listener.wss.external.{honor_cipher_order,secure_renegotiate} (" + OwnerGoTLS + ")",
		"listener.tcp.external.peer_cert_as_username (" + OwnerNoCert + ")", "listener.tcp.external.{", "log.chars_limit"} {
		if !strings.Contains(sum, want) {
			t.Errorf("warning line lacks %q:\n%s", want, sum)
		}
	}
	// TLS-PSK acts (engine/listener_psk.go).
	if strings.Contains(sum, "psk_ciphers") {
		t.Errorf("warning line lists psk_ciphers:\n%s", sum)
	}
	// permessage-deflate acts (engine/transport/ws_deflate.go).
	if strings.Contains(sum, ".compress") || strings.Contains(sum, "client_context_takeover") || strings.Contains(sum, "deflate_opts.level") {
		t.Errorf("warning line lists compress:\n%s", sum)
	}
	// Rate limits and force_shutdown_policy act (engine/ratelimit.go, engine/forceshutdown.go).
	if strings.Contains(sum, "publish_limit") || strings.Contains(sum, "rate_limit") || strings.Contains(sum, "force_shutdown") {
		t.Errorf("warning line lists a rate limit:\n%s", sum)
	}
	// log.<level>.file acts (cmd/emqx's logger).
	if strings.Contains(sum, ".file") {
		t.Errorf("warning line lists log.<level>.file:\n%s", sum)
	}
}

func TestEmptyOptionalString(t *testing.T) {
	c, _, err := Parse("e.conf", []byte("zone.z.mountpoint =\nzone.z.idle_timeout = 1s\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Zones["z"].Mountpoint != "" || c.Zones["z"].IdleTimeout != time.Second {
		t.Fatalf("%+v", c.Zones["z"])
	}
}

func TestHomeResolvesPaths(t *testing.T) {
	f := func(exe, wd, want string) {
		t.Helper()
		if got := DefaultHome(exe, wd); got != want {
			t.Errorf("DefaultHome(%q, %q) = %q, want %q", exe, wd, got, want)
		}
	}
	f("/opt/emqx/bin/emqx", "/tmp", "/opt/emqx")
	f("/tmp/go-build1/b001/exe/emqx", "/home/u/src", "/home/u/src")
	f("/usr/local/emqx.test", "/w", "/w")

	c, _, err := LoadAt("", []string{"EMQX_LOG__DIR=/var/log/emqx"}, "/opt/emqx")
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Home != "/opt/emqx" || c.Node.DataDir != "/opt/emqx/data" || c.ACL.File != "/opt/emqx/etc/acl.conf" ||
		c.Persistence.Dir != "/opt/emqx/data/store" || c.Log.Dir != "/var/log/emqx" || c.Raw["plugins.etc_dir"] != "/opt/emqx/etc/plugins" {
		t.Fatalf("paths not resolved against the home: %+v %+v %q %q", c.Node, c.ACL, c.Persistence.Dir, c.Log.Dir)
	}
	// node.home beats the caller's home.
	c, _, err = LoadAt("", []string{"EMQX_NODE__HOME=/srv/mq"}, "/opt/emqx")
	if err != nil || c.Node.DataDir != "/srv/mq/data" || c.Node.Home != "/srv/mq" {
		t.Fatalf("node.home: %v %+v", err, c.Node)
	}
	// Without a home, paths stay as written.
	c, _, _ = Load("", nil)
	if c.Node.DataDir != "data" || c.Node.Home != "" {
		t.Fatalf("no home: %+v", c.Node)
	}
	// Origins say who named a key.
	c, _, _ = Parse("my.conf", []byte("node.name = a@b\nacl_file = x.conf\n"), []string{"EMQX_LOG__DIR=/l"})
	if o, ok := c.Origin("acl_file"); !ok || !o.Explicit() || o.String() != "my.conf:2" {
		t.Errorf("acl_file origin %v %v", o, ok)
	}
	if o, ok := c.Origin("log.dir"); !ok || !o.Explicit() || o.String() != "environment variable EMQX_LOG__DIR" {
		t.Errorf("log.dir origin %v %v", o, ok)
	}
	if _, ok := c.Origin("node.data_dir"); ok {
		t.Error("node.data_dir has an origin though nothing set it")
	}
	c, _, _ = Load("", nil)
	if o, ok := c.Origin("acl_file"); !ok || o.Explicit() {
		t.Errorf("the embedded file's acl_file counts as explicit: %v %v", o, ok)
	}
}
