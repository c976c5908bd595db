package plugins

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/service/bridge"
	"github.com/emqgo/emqgo/engine/transport"
)

// bridgeKeys are the keys of etc/plugins/emqx_bridge_mqtt.conf (EMQX 3.2's, plus
// queue.max_total_size and backlog_alarm).
var bridgeKeys = func() []Key {
	var ks []Key
	for _, k := range []string{"address", "proto_ver", "bridge_mode", "client_id", "clean_start", "username", "password",
		"mountpoint", "forwards", "ssl", "cacertfile", "certfile", "keyfile", "ciphers", "psk_ciphers", "psk_identity", "keepalive",
		"tls_versions", "subscription.$n.topic", "subscription.$n.qos", "start_type", "reconnect_interval",
		"retry_interval", "max_inflight_batches", "queue.batch_count_limit", "queue.batch_bytes_limit",
		"queue.replayq_dir", "queue.replayq_seg_bytes", "queue.max_total_size", "backlog_alarm"} {
		ks = append(ks, Key{Pattern: "bridge.mqtt.$name." + k})
	}
	return ks
}()

// bridgeDefaults are the values of keys a bridge does not set (EMQX 3.2's schema defaults).
var bridgeDefaults = map[string]string{
	"proto_ver": "mqttv4", "bridge_mode": "true", "clean_start": "true", "ssl": "off", "keepalive": "10s",
	"tls_versions": "tlsv1.2,tlsv1.1,tlsv1", "start_type": "auto", "reconnect_interval": "30s",
	"retry_interval": "20s", "max_inflight_batches": "32", "queue.batch_count_limit": "32",
	"queue.batch_bytes_limit": "1MB", "queue.replayq_seg_bytes": "10MB", "queue.max_total_size": "1GB",
	"backlog_alarm": "5m",
}

// bridgeConfigs reads every bridge.mqtt.<name> of the plugin's file.
func bridgeConfigs(e *Env) ([]bridge.Config, *Conf) {
	c := LoadConf(bridge.Name, "bridge.mqtt.", bridgeKeys, e.EtcDir, e.Home, e.Environ)
	names := map[string]bool{}
	for _, k := range bridgeKeysSet(c) {
		names[strings.Split(k, ".")[2]] = true
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	var out []bridge.Config
	for _, name := range list {
		out = append(out, bridgeConfig(c, e, name))
	}
	return out, c
}

func bridgeKeysSet(c *Conf) []string {
	var out []string
	for _, k := range bridgeKeys {
		out = append(out, c.Matching(k.Pattern)...)
	}
	return out
}

func bridgeConfig(c *Conf, e *Env, name string) bridge.Config {
	p := "bridge.mqtt." + name + "."
	get := func(k string) string {
		if v, ok := c.Get(p + k); ok {
			return v
		}
		return bridgeDefaults[k]
	}
	boolean := func(k string) bool {
		switch get(k) {
		case "on", "true":
			return true
		case "off", "false":
			return false
		}
		c.Fail(p+k, "expected on or off (true or false), got "+strconv.Quote(get(k)))
		return false
	}
	dur := func(k string) time.Duration { return c.durationOf(p+k, get(k)) }
	size := func(k string) int64 {
		n, ok := parseByteSize(get(k))
		if !ok {
			c.Fail(p+k, "expected a size such as 10MB, got "+strconv.Quote(get(k)))
		}
		return n
	}
	count := func(k string) int {
		n, err := strconv.Atoi(get(k))
		if err != nil || n <= 0 {
			c.Fail(p+k, "expected a whole number greater than 0, got "+strconv.Quote(get(k)))
		}
		return n
	}
	cfg := bridge.Config{
		Name: name, Address: get("address"), BridgeMode: boolean("bridge_mode"),
		ClientID: get("client_id"), Username: get("username"), Password: get("password"),
		CleanStart: boolean("clean_start"), KeepAlive: dur("keepalive"),
		Mountpoint:        strings.ReplaceAll(get("mountpoint"), "${node}", e.NodeName),
		ReconnectInterval: dur("reconnect_interval"), RetryInterval: dur("retry_interval"),
		MaxInflightBatches: count("max_inflight_batches"), BatchCount: count("queue.batch_count_limit"),
		BatchBytes: size("queue.batch_bytes_limit"), SegmentBytes: size("queue.replayq_seg_bytes"),
		MaxQueueBytes: size("queue.max_total_size"), BacklogAlarm: dur("backlog_alarm"),
	}
	rpc := strings.Contains(cfg.Address, "@")
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil && !rpc {
		c.Fail(p+"address", "expected host:port of an MQTT broker or name@host of a node (RPC bridge), got "+strconv.Quote(cfg.Address))
	}
	switch get("proto_ver") {
	case "mqttv3":
		cfg.Version = codec.V31
	case "mqttv4":
		cfg.Version = codec.V311
	case "mqttv5":
		cfg.Version = codec.V5
	default:
		c.Fail(p+"proto_ver", "expected mqttv3, mqttv4 or mqttv5, got "+strconv.Quote(get("proto_ver")))
	}
	switch get("start_type") {
	case "auto":
		cfg.AutoStart = true
	case "manual":
	default:
		c.Fail(p+"start_type", "expected auto or manual, got "+strconv.Quote(get("start_type")))
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "bridge_" + name
	}
	for _, f := range strings.Split(get("forwards"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			if err := codec.ValidTopicFilter([]byte(f)); err != nil {
				c.Fail(p+"forwards", fmt.Sprintf("%q: %v", f, err))
			}
			cfg.Forwards = append(cfg.Forwards, f)
		}
	}
	for _, k := range c.Matching(p + "subscription.$n.topic") {
		n := strings.TrimSuffix(strings.TrimPrefix(k, p+"subscription."), ".topic")
		topic := c.Str(k)
		if err := codec.ValidTopicFilter([]byte(topic)); err != nil {
			c.Fail(k, fmt.Sprintf("%q: %v", topic, err))
		}
		qk := p + "subscription." + n + ".qos"
		qos, err := strconv.ParseUint(c.Str(qk), 10, 8)
		if v, ok := c.Get(qk); !ok {
			qos = 1
		} else if err != nil || qos > 2 {
			c.Fail(qk, "expected 0, 1 or 2, got "+strconv.Quote(v))
		}
		cfg.Subscriptions = append(cfg.Subscriptions, bridge.Subscription{Topic: topic, QoS: byte(qos)})
	}
	if dir := get("queue.replayq_dir"); dir != "" {
		if !filepath.IsAbs(dir) && e.Home != "" {
			dir = filepath.Join(e.Home, dir)
		}
		cfg.QueueDir = dir
	}
	if rpc {
		rpcBridge(c, p, boolean("ssl"), e, &cfg)
		return cfg
	}
	if boolean("ssl") {
		// With psk_ciphers the certificates, ciphers and tls_versions do not apply (not read).
		if cfg.PSK = bridgePSK(c, p, get, e); cfg.PSK == nil {
			cfg.TLS = bridgeTLS(c, p, get, cfg.Address)
		}
	}
	return cfg
}

// parseByteSize reads a size as EMQX writes them (10MB, 1000MB, 512KB, 1GB; binary units) or
// a bare number of bytes.
func parseByteSize(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9') {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	mul := map[string]int64{"": 1, "b": 1, "kb": 1 << 10, "k": 1 << 10, "mb": 1 << 20, "m": 1 << 20, "gb": 1 << 30, "g": 1 << 30}[strings.ToLower(v[i:])]
	if mul == 0 || n > (1<<62)/mul {
		return 0, false
	}
	return n * mul, true
}

// bridgeTLS builds the client TLS settings of a bridge (ssl = on).
func bridgeTLS(c *Conf, p string, get func(string) string, addr string) *tls.Config {
	t := tlsFiles(c, p)
	if t == nil {
		t = &tls.Config{}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		t.ServerName = host
	}
	t.MinVersion = 0
	var vs []uint16
	for _, v := range strings.Split(get("tls_versions"), ",") {
		switch strings.TrimSpace(v) {
		case "tlsv1":
			vs = append(vs, tls.VersionTLS10)
		case "tlsv1.1":
			vs = append(vs, tls.VersionTLS11)
		case "tlsv1.2":
			vs = append(vs, tls.VersionTLS12)
		case "tlsv1.3":
			vs = append(vs, tls.VersionTLS13)
		case "":
		default:
			c.Fail(p+"tls_versions", strconv.Quote(v)+" is not one of tlsv1, tlsv1.1, tlsv1.2, tlsv1.3")
		}
	}
	if len(vs) > 0 {
		t.MinVersion, t.MaxVersion = vs[0], vs[0]
		for _, v := range vs {
			t.MinVersion, t.MaxVersion = min(t.MinVersion, v), max(t.MaxVersion, v)
		}
	}
	if cs := get("ciphers"); strings.TrimSpace(cs) != "" {
		ids, _, err := transport.CipherSuites(strings.Split(cs, ","))
		if err != nil {
			c.Fail(p+"ciphers", err.Error())
		}
		t.CipherSuites = ids
	}
	return t
}

// startBridge starts emqx_bridge_mqtt: every bridge of the file, those with start_type = auto
// connecting in the background.
func startBridge(e *Env) (*Instance, error) {
	if e.Node == nil {
		return nil, fmt.Errorf("%s needs a running node", bridge.Name)
	}
	cfgs, c := bridgeConfigs(e)
	if err := c.Err(); err != nil {
		return nil, err
	}
	for _, cfg := range cfgs {
		if _, ok := c.Get("bridge.mqtt." + cfg.Name + ".psk_ciphers"); ok && cfg.TLS == nil && cfg.PSK == nil {
			e.Log.Warn("bridge.mqtt."+cfg.Name+".psk_ciphers has no effect with ssl = off", "plugin", bridge.Name)
		}
	}
	set, err := bridge.Open(bridge.Options{
		Node: e.Node, Log: e.Log, Alarms: e.Alarms,
		StateFile: filepath.Join(e.DataDir, bridge.Name+".json"),
	}, cfgs)
	if err != nil {
		return nil, err
	}
	return &Instance{Bridges: set, Close: set.Close}, nil
}
