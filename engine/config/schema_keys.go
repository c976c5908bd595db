package config

import (
	"time"
)

// This file is the key table. Each non-pattern key carries a setter that stores its typed
// value into Config; zone and listener keys live in their own tables, since one row there
// stands for every zone or listener. The defaults here must equal etc/emqx.conf
// (TestDefaultFileEqualsDefault checks it).

// sp builds a spec; the chained methods below refine it.
func sp(key string, t Type, def, doc string) *Spec {
	return &Spec{Key: key, Type: t, Default: def, Doc: doc}
}

// ne marks the key as accepted without effect, for the reason owner (one of the Owner*).
func (s *Spec) ne(owner string) *Spec { s.NoEffect, s.Owner = true, owner; return s }

func (s *Spec) enum(vals ...string) *Spec { s.Enum = vals; return s }

func (s *Spec) rng(lo, hi float64) *Spec { s.Min, s.Max, s.HasRange = lo, hi, true; return s }

func (s *Spec) unit(d time.Duration) *Spec { s.Unit = d; return s }

// Typed views of parsed values (see parseValue).
func asStr(v any) string           { return v.(string) }
func asBool(v any) bool            { return v.(bool) }
func asInt(v any) int              { return int(v.(int64)) }
func asI64(v any) int64            { return v.(int64) }
func asDur(v any) time.Duration    { return v.(time.Duration) }
func asList(v any) []string        { return v.([]string) }
func asF64(v any) float64          { return v.(float64) }
func asRate(v any) Rate            { return v.(Rate) }
func asGC(v any) GCPolicy          { return v.(GCPolicy) }
func asPrio(v any) []TopicPriority { return v.([]TopicPriority) }

type fixedDef struct {
	spec *Spec
	set  func(c *Config, v any) // nil: kept in Raw only
}

func f(s *Spec, set func(c *Config, v any)) fixedDef { return fixedDef{s, set} }

// raw registers a key that is only kept in Config.Raw.
func raw(s *Spec) fixedDef { return fixedDef{s, nil} }

var vmNote = "Erlang VM setting, accepted for compatibility"

func fixedDefs() []fixedDef {
	ms := time.Millisecond
	sec := time.Second
	defs := []fixedDef{
		// Cluster: an embedded NATS server per node, routes between nodes (engine/service/cluster).
		f(sp("cluster.name", TypeString, "emqxcl", "name of the cluster the node joins; nodes of other clusters are refused"), func(c *Config, v any) { c.Cluster.Name = asStr(v) }),
		f(sp("cluster.proto_dist", TypeEnum, "inet_tcp", "transport of the cluster routes: inet_tls is TLS (as cluster.ssl = on); inet_tcp and inet6_tcp are TCP (the address family follows cluster.listen)").enum("inet_tcp", "inet6_tcp", "inet_tls"), func(c *Config, v any) { c.Cluster.ProtoDist = asStr(v) }),
		f(sp("cluster.discovery", TypeEnum, "manual", "how nodes find each other: manual (emqx_ctl cluster join), static (cluster.static.seeds) or dns (cluster.dns.*)").enum("manual", "static", "mcast", "dns", "etcd", "k8s"), func(c *Config, v any) { c.Cluster.Discovery = asStr(v) }),
		f(sp("cluster.autoheal", TypeBool, "on", "let a node that was cut off (same run, seen down) rejoin by itself"), func(c *Config, v any) { c.Cluster.Autoheal = asBool(v) }),
		f(sp("cluster.autoclean", TypeDuration, "5m", "remove nodes that stay down this long"), func(c *Config, v any) { c.Cluster.Autoclean = asDur(v) }),
		f(sp("cluster.static.seeds", TypeList, "", "node names of a static cluster (name@host, or name@host:port)"), func(c *Config, v any) { c.Cluster.StaticSeeds = asList(v) }),
		f(sp("cluster.listen", TypeAddr, "", "address of the node's cluster route listener, ip:port or port; unset: the node does not cluster"), func(c *Config, v any) { c.Cluster.Listen = asStr(v) }),
		raw(sp("cluster.mcast.addr", TypeString, "", "multicast discovery address").ne(OwnerDiscovery)),
		raw(sp("cluster.mcast.ports", TypeList, "", "multicast discovery ports").ne(OwnerDiscovery)),
		raw(sp("cluster.mcast.iface", TypeString, "", "multicast interface address").ne(OwnerDiscovery)),
		raw(sp("cluster.mcast.ttl", TypeInt, "", "multicast TTL").rng(0, 255).ne(OwnerDiscovery)),
		raw(sp("cluster.mcast.loop", TypeBool, "", "multicast loopback").ne(OwnerDiscovery)),
		f(sp("cluster.dns.name", TypeString, "", "DNS name whose A records list the nodes (cluster.discovery = dns)"), func(c *Config, v any) { c.Cluster.DNS.Name = asStr(v) }),
		f(sp("cluster.dns.app", TypeString, "", "application part of node names found by DNS: <app>@<ip>"), func(c *Config, v any) { c.Cluster.DNS.App = asStr(v) }),
		raw(sp("cluster.etcd.server", TypeList, "", "etcd servers").ne(OwnerDiscovery)),
		raw(sp("cluster.etcd.prefix", TypeString, "", "etcd key prefix").ne(OwnerDiscovery)),
		raw(sp("cluster.etcd.node_ttl", TypeDuration, "", "TTL of a node's etcd entry").ne(OwnerDiscovery)),
		raw(sp("cluster.etcd.ssl.keyfile", TypePath, "", "etcd client key").ne(OwnerDiscovery)),
		raw(sp("cluster.etcd.ssl.certfile", TypePath, "", "etcd client certificate").ne(OwnerDiscovery)),
		raw(sp("cluster.etcd.ssl.cacertfile", TypePath, "", "etcd CA certificates").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.apiserver", TypeList, "", "Kubernetes API servers").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.service_name", TypeString, "", "Kubernetes service of the nodes").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.address_type", TypeEnum, "", "how node hosts are named in Kubernetes").enum("ip", "dns", "hostname").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.app_name", TypeString, "", "application part of node names in Kubernetes").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.suffix", TypeString, "", "suffix added to Kubernetes host names").ne(OwnerDiscovery)),
		raw(sp("cluster.k8s.namespace", TypeString, "", "Kubernetes namespace").ne(OwnerDiscovery)),

		// Node.
		f(sp("node.name", TypeString, "emqx@127.0.0.1", "node name, name@host"), func(c *Config, v any) { c.Node.Name = asStr(v) }),
		f(sp("node.cookie", TypeString, "emqxsecretcookie", "secret shared by the nodes of a cluster (the password of the cluster routes)"), func(c *Config, v any) { c.Node.Cookie = asStr(v) }),
		f(sp("node.data_dir", TypePath, "data", "directory for the node's data"), func(c *Config, v any) { c.Node.DataDir = asStr(v) }),
		f(sp("node.home", TypePath, "", "home directory against which relative paths resolve; unset for the directory above bin/"), func(c *Config, v any) { c.Node.Home = asStr(v) }),
		f(sp("node.gc_max_rate", TypeInt, "4", "garbage collections per second the node aims not to exceed while it allocates fast (GOGC raised within node.gc_max_extra_heap); 0: no pacing").rng(0, 1000), func(c *Config, v any) { c.Node.GCMaxRate = asInt(v) }),
		f(sp("node.gc_max_extra_heap", TypeBytes, "64MB", "the most heap memory the garbage collection pacing adds to the default headroom"), func(c *Config, v any) { c.Node.GCMaxExtraHeap = asI64(v) }),
		f(sp("node.auth_storm_procs", TypePercent, "100%", "Go processors added, as a share of the CPUs, while clients queue for an authentication plugin's backend; 0%: none"), func(c *Config, v any) { c.Node.AuthStormProcs = asF64(v) }),
		raw(sp("node.heartbeat", TypeBool, "", vmNote).ne(OwnerVM)),
		raw(sp("node.smp", TypeEnum, "", vmNote).enum("enable", "auto", "disable").ne(OwnerVM)),
		raw(sp("node.kernel_poll", TypeBool, "", vmNote).ne(OwnerVM)),
		raw(sp("node.async_threads", TypeInt, "32", vmNote).rng(0, 1024).ne(OwnerVM)),
		raw(sp("node.process_limit", TypeInt, "2048000", vmNote).rng(1024, 134217727).ne(OwnerVM)),
		raw(sp("node.max_ports", TypeInt, "1024000", vmNote).rng(1024, 134217727).ne(OwnerVM)),
		raw(sp("node.dist_buffer_size", TypeBytes, "8MB", vmNote).ne(OwnerVM)),
		raw(sp("node.max_ets_tables", TypeInt, "256000", vmNote).ne(OwnerVM)),
		raw(sp("node.global_gc_interval", TypeDuration, "15m", vmNote).ne(OwnerVM)),
		raw(sp("node.fullsweep_after", TypeInt, "1000", vmNote).rng(0, 65535).ne(OwnerVM)),
		f(sp("node.crash_dump", TypePath, "log/crash.dump", "crash dump file").ne(OwnerVM), func(c *Config, v any) { c.Node.CrashDump = asStr(v) }),
		raw(sp("node.proto_dist", TypeEnum, "", vmNote).enum("inet_tcp", "inet6_tcp", "inet_tls").ne(OwnerVM)),
		raw(sp("node.ssl_dist_optfile", TypePath, "", vmNote).ne(OwnerVM)),
		raw(sp("node.dist_net_ticktime", TypeInt, "60", vmNote).ne(OwnerVM)),
		raw(sp("node.dist_listen_min", TypeInt, "6369", vmNote).rng(1024, 65535).ne(OwnerVM)),
		raw(sp("node.dist_listen_max", TypeInt, "6369", vmNote).rng(1024, 65535).ne(OwnerVM)),

		// RPC between nodes: accepted, no effect.
		raw(sp("rpc.mode", TypeEnum, "async", "RPC mode between nodes").enum("sync", "async").ne(OwnerCluster)),
		raw(sp("rpc.async_batch_size", TypeInt, "256", "batch size of async RPC").ne(OwnerCluster)),
		raw(sp("rpc.port_discovery", TypeEnum, "", "how RPC ports are found").enum("manual", "stateless").ne(OwnerCluster)),
		f(sp("rpc.tcp_server_port", TypeInt, "5369", "port of the node's RPC listener (on cluster.listen's host), where RPC bridges of other clusters deliver").rng(1024, 65535), func(c *Config, v any) { c.Cluster.RPCServerPort = asInt(v) }),
		f(sp("rpc.tcp_client_port", TypeInt, "5369", "RPC listener port of other nodes, dialled by RPC bridges whose address (name@host) names no port").rng(1024, 65535), func(c *Config, v any) { c.Cluster.RPCClientPort = asInt(v) }),
		raw(sp("rpc.tcp_client_num", TypeInt, "32", "outgoing RPC connections per node").rng(1, 256).ne(OwnerCluster)),
		raw(sp("rpc.connect_timeout", TypeDuration, "5s", "RPC connect timeout").unit(ms).ne(OwnerCluster)),
		raw(sp("rpc.send_timeout", TypeDuration, "5s", "RPC send timeout").unit(ms).ne(OwnerCluster)),
		raw(sp("rpc.authentication_timeout", TypeDuration, "5s", "RPC authentication timeout").unit(ms).ne(OwnerCluster)),
		raw(sp("rpc.call_receive_timeout", TypeDuration, "15s", "RPC call timeout").unit(ms).ne(OwnerCluster)),
		raw(sp("rpc.socket_keepalive_idle", TypeDuration, "900s", "RPC TCP keepalive idle time").unit(sec).ne(OwnerCluster)),
		raw(sp("rpc.socket_keepalive_interval", TypeDuration, "75s", "RPC TCP keepalive probe interval").unit(sec).ne(OwnerCluster)),
		raw(sp("rpc.socket_keepalive_count", TypeInt, "9", "RPC TCP keepalive probes").ne(OwnerCluster)),
		raw(sp("rpc.socket_sndbuf", TypeBytes, "1MB", "RPC socket send buffer").ne(OwnerCluster)),
		raw(sp("rpc.socket_recbuf", TypeBytes, "1MB", "RPC socket receive buffer").ne(OwnerCluster)),
		raw(sp("rpc.socket_buffer", TypeBytes, "1MB", "RPC user-level buffer").ne(OwnerCluster)),

		// Log.
		f(sp("log.to", TypeEnum, "both", "where logs go").enum("off", "file", "console", "both"), func(c *Config, v any) { c.Log.To = asStr(v) }),
		f(sp("log.level", TypeEnum, "warning", "lowest level logged").enum(logLevels...), func(c *Config, v any) { c.Log.Level = asStr(v) }),
		f(sp("log.dir", TypePath, "log", "directory of log files"), func(c *Config, v any) { c.Log.Dir = asStr(v) }),
		f(sp("log.file", TypeString, "emqx.log", "main log file name, in log.dir"), func(c *Config, v any) { c.Log.File = asStr(v) }),
		f(sp("log.chars_limit", TypeInt, "", "maximum characters of one log event; unset for no limit").rng(-1, 1<<31).ne(OwnerManagement), func(c *Config, v any) { c.Log.CharsLimit = max(asInt(v), 0) }),
		f(sp("log.rotation", TypeBool, "on", "rotate the main log file"), func(c *Config, v any) { c.Log.Rotation = asBool(v) }),
		f(sp("log.rotation.size", TypeBytes, "10MB", "size at which a log file is rotated"), func(c *Config, v any) { c.Log.RotationSize = asI64(v) }),
		f(sp("log.rotation.count", TypeInt, "5", "rotated log files kept").rng(1, 1024), func(c *Config, v any) { c.Log.RotationCount = asInt(v) }),
		raw(sp("log.$level.file", TypeString, "", "extra log file for one level and above")),
		f(sp("log.formatter", TypeEnum, "text", "log line format").enum("text", "json"), func(c *Config, v any) { c.Log.Formatter = asStr(v) }),
		f(sp("log.single_line", TypeBool, "true", "keep each log event on one line").ne(OwnerManagement), func(c *Config, v any) { c.Log.SingleLine = asBool(v) }),
		raw(sp("log.sync_mode_qlen", TypeInt, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.drop_mode_qlen", TypeInt, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.flush_qlen", TypeInt, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.overload_kill", TypeBool, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.overload_kill_qlen", TypeInt, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.overload_kill_mem_size", TypeBytes, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.overload_kill_restart_after", TypeDuration, "", "Erlang logger overload setting").ne(OwnerVM)),
		raw(sp("log.burst_limit", TypeString, "", "Erlang logger overload setting").ne(OwnerVM)),

		// Authentication and ACL.
		raw(sp("allow_anonymous", TypeBool, "true", "let clients connect without credentials when no auth plugin decides")), // Zone.AllowAnonymous
		f(sp("acl_nomatch", TypeEnum, "allow", "decision when no ACL rule matches").enum("allow", "deny"), func(c *Config, v any) { c.ACL.NoMatch = asStr(v) }),
		f(sp("acl_file", TypePath, "etc/acl.conf", "file of ACL rules"), func(c *Config, v any) { c.ACL.File = asStr(v) }),
		f(sp("enable_acl_cache", TypeBool, "on", "cache ACL decisions per connection"), func(c *Config, v any) { c.ACL.EnableCache = asBool(v) }),
		f(sp("acl_cache_max_size", TypeInt, "32", "ACL decisions cached per connection").rng(1, 1<<31), func(c *Config, v any) { c.ACL.CacheMaxSize = asInt(v) }),
		f(sp("acl_cache_ttl", TypeDuration, "1m", "lifetime of a cached ACL decision"), func(c *Config, v any) { c.ACL.CacheTTL = asDur(v) }),
		raw(sp("acl_deny_action", TypeEnum, "ignore", "what to do with a denied publish or subscribe").enum("ignore", "disconnect")), // Zone.ACLDenyAction
		f(sp("flapping_detect_policy", TypeFlapping, "30, 1m, 5m", "connects, window and ban time of flapping detection"), func(c *Config, v any) { c.ACL.FlappingPolicy = v.(FlappingPolicy) }),
	}
	return append(defs, clusterNetDefs()...)
}

// fixedDefsTail are the non-pattern keys that come after the listeners in etc/emqx.conf.
func fixedDefsTail() []fixedDef {
	sec := time.Second
	ms := time.Millisecond
	defs := []fixedDef{
		// Modules.
		raw(sp("modules.loaded_file", TypePath, "", "file listing loaded modules").ne(OwnerManagement)),
		f(sp("module.presence", TypeBool, "on", "publish client connected/disconnected events to $SYS"), func(c *Config, v any) { c.Modules.Presence = asBool(v) }),
		f(sp("module.presence.qos", TypeInt, "1", "QoS of presence events").rng(0, 2), func(c *Config, v any) { c.Modules.PresenceQoS = asInt(v) }),
		f(sp("module.subscription", TypeBool, "off", "subscribe clients to module.subscription.$n topics on connect"), func(c *Config, v any) { c.Modules.Subscription = asBool(v) }),
		raw(sp("module.subscription.$n.topic", TypeString, "", "topic subscribed on connect; %c is the client id, %u the username")),
		raw(sp("module.subscription.$n.qos", TypeInt, "", "QoS of that subscription").rng(0, 2)),
		raw(sp("module.subscription.$n.nl", TypeInt, "", "MQTT 5 no-local option of that subscription").rng(0, 1)),
		raw(sp("module.subscription.$n.rap", TypeInt, "", "MQTT 5 retain-as-published option").rng(0, 1)),
		raw(sp("module.subscription.$n.rh", TypeInt, "", "MQTT 5 retain-handling option").rng(0, 2)),
		f(sp("module.rewrite", TypeBool, "off", "rewrite topics by module.rewrite rules"), func(c *Config, v any) { c.Modules.Rewrite = asBool(v) }),
		raw(sp("module.rewrite.rule.$n", TypeRewrite, "", "rewrite rule for publish and subscribe")),
		raw(sp("module.rewrite.pub.rule.$n", TypeRewrite, "", "rewrite rule for publish")),
		raw(sp("module.rewrite.sub.rule.$n", TypeRewrite, "", "rewrite rule for subscribe")),

		// Plugins.
		f(sp("plugins.etc_dir", TypePath, "etc/plugins/", "directory of plugin config files"), func(c *Config, v any) { c.Plugins.EtcDir = asStr(v) }),
		f(sp("plugins.loaded_file", TypePath, "data/loaded_plugins", "file listing plugins to load at start"), func(c *Config, v any) { c.Plugins.LoadedFile = asStr(v) }),
		f(sp("plugins.expand_plugins_dir", TypePath, "plugins/", "directory of extra plugins").ne(OwnerPluginDir), func(c *Config, v any) { c.Plugins.ExpandPluginsDir = asStr(v) }),

		// Broker.
		f(sp("broker.sys_interval", TypeDuration, "1m", "interval of $SYS statistics messages; 0 disables them"), func(c *Config, v any) { c.Broker.SysInterval = asDur(v) }),
		f(sp("broker.sys_heartbeat", TypeDuration, "30s", "interval of $SYS uptime and datetime messages; 0 disables them"), func(c *Config, v any) { c.Broker.SysHeartbeat = asDur(v) }),
		f(sp("broker.enable_session_registry", TypeBool, "on", "cluster-wide session registry").ne(OwnerCluster), func(c *Config, v any) { c.Broker.EnableSessionRegistry = asBool(v) }),
		f(sp("broker.session_locking_strategy", TypeEnum, "quorum", "session lock across the cluster").enum("local", "one", "leader", "quorum", "all").ne(OwnerCluster), func(c *Config, v any) { c.Broker.SessionLockingStrategy = asStr(v) }),
		f(sp("broker.shared_subscription_strategy", TypeEnum, "random", "how a shared subscription picks a subscriber").enum("random", "round_robin", "sticky", "hash", "hash_clientid", "hash_topic"), func(c *Config, v any) { c.Broker.SharedSubscriptionStrategy = asStr(v) }),
		f(sp("broker.shared_dispatch_ack_enabled", TypeBool, "false", "redispatch QoS 1/2 shared messages when the picked subscriber is offline").ne(OwnerReliability), func(c *Config, v any) { c.Broker.SharedDispatchAckEnabled = asBool(v) }),
		f(sp("broker.route_batch_clean", TypeBool, "off", "clean deleted routes in batches").ne(OwnerCluster), func(c *Config, v any) { c.Broker.RouteBatchClean = asBool(v) }),

		// Retainer (EMQX's emqx_retainer.conf).
		f(sp("retainer.storage_type", TypeEnum, "ram", "EMQX retainer storage; persistence.* decides durability here").enum("ram", "disc", "disc_only").ne(OwnerPersistence), func(c *Config, v any) { c.Retainer.StorageType = asStr(v) }),
		f(sp("retainer.max_retained_messages", TypeInt, "0", "maximum retained messages; 0 for no limit").rng(0, 1<<62), func(c *Config, v any) { c.Retainer.MaxRetainedMessages = asInt(v) }),
		f(sp("retainer.max_payload_size", TypeBytes, "1MB", "largest payload that is retained"), func(c *Config, v any) { c.Retainer.MaxPayloadSize = asI64(v) }),
		f(sp("retainer.expiry_interval", TypeDuration, "0", "retained messages expire after this; 0 for never").unit(sec), func(c *Config, v any) { c.Retainer.ExpiryInterval = asDur(v) }),

		// Persistence (ours).
		f(sp("persistence.enable", TypeBool, "on", "keep retained messages and persistent sessions across restarts"), func(c *Config, v any) { c.Persistence.Enable = asBool(v) }),
		f(sp("persistence.dir", TypePath, "data/store", "directory of the durable store"), func(c *Config, v any) { c.Persistence.Dir = asStr(v) }),
		f(sp("persistence.fsync", TypeEnum, "interval", "when the store log is flushed to disk").enum("always", "interval", "never"), func(c *Config, v any) { c.Persistence.Fsync = asStr(v) }),
		f(sp("persistence.fsync_interval", TypeDuration, "100ms", "flush interval when persistence.fsync = interval").unit(ms), func(c *Config, v any) { c.Persistence.FsyncInterval = asDur(v) }),
		f(sp("persistence.segment_size", TypeBytes, "64MB", "size of one store log segment"), func(c *Config, v any) { c.Persistence.SegmentSize = asI64(v) }),
		f(sp("persistence.compact_ratio", TypePercent, "50%", "share of dead records that triggers compaction"), func(c *Config, v any) { c.Persistence.CompactRatio = asF64(v) }),
		f(sp("persistence.compact_min_size", TypeBytes, "16MB", "no compaction below this store size"), func(c *Config, v any) { c.Persistence.CompactMinSize = asI64(v) }),
	}
	// Management API (EMQX's emqx_management.conf). The dashboard's keys are in its plugin's
	// file, etc/plugins/emqx_dashboard.conf, as in EMQX.
	defs = append(defs, httpDefs("management", "8080", func(c *Config) *Management { return &c.Management })...)
	defs = append(defs,
		f(sp("management.default_application.id", TypeString, "admin", "id of the default API application (HTTP basic auth user)"), func(c *Config, v any) { c.Management.AppID = asStr(v) }),
		f(sp("management.default_application.secret", TypeString, "public", "secret of the default API application"), func(c *Config, v any) { c.Management.AppSecret = asStr(v) }),
		f(sp("management.max_row_limit", TypeInt, "10000", "most rows an API list returns").rng(1, 1<<31).ne(OwnerManagement), func(c *Config, v any) { c.Management.MaxRowLimit = asInt(v) }),
	)
	defs = append(defs,
		// System monitors and alarms: the $SYS service (engine/service/sys) acts on those with a
		// setter (long_schedule: an event loop slow to pick up a task; busy_port: a connection
		// whose output backlog stays above the high-water mark; busy_dist_port: a cluster route to a
		// peer whose pending output stays high); the Erlang VM monitors have no
		// effect.
		f(sp("sysmon.long_gc", TypeDuration, "0", "a GC pause longer than this raises the long_gc alarm; 0 disables").unit(ms), func(c *Config, v any) { c.Monitor.LongGC = asDur(v) }),
		f(sp("sysmon.long_schedule", TypeDuration, "240ms", "an event loop that takes longer than this to pick up a task raises long_schedule; 0 disables").unit(ms), func(c *Config, v any) { c.Monitor.LongSchedule = asDur(v) }),
		f(sp("sysmon.large_heap", TypeBytes, "0", "Go heap in use above this raises the large_heap alarm; 0 disables"), func(c *Config, v any) { c.Monitor.LargeHeap = asI64(v) }),
		f(sp("sysmon.busy_port", TypeBool, "false", "a connection whose output backlog stays above the high-water mark raises busy_port"), func(c *Config, v any) { c.Monitor.BusyPort = asBool(v) }),
		f(sp("sysmon.busy_dist_port", TypeBool, "true", "a route to a peer node whose pending output stays above 1 MiB for a check raises busy_dist_port"), func(c *Config, v any) { c.Monitor.BusyDistPort = asBool(v) }),
		f(sp("os_mon.cpu_check_interval", TypeDuration, "60s", "interval of CPU use checks (/proc/stat); 0 disables").unit(sec), func(c *Config, v any) { c.Monitor.CPUCheckInterval = asDur(v) }),
		f(sp("os_mon.cpu_high_watermark", TypePercent, "80%", "system CPU use that raises high_cpu_usage"), func(c *Config, v any) { c.Monitor.CPUHighWatermark = asF64(v) }),
		f(sp("os_mon.cpu_low_watermark", TypePercent, "60%", "system CPU use that clears high_cpu_usage"), func(c *Config, v any) { c.Monitor.CPULowWatermark = asF64(v) }),
		f(sp("os_mon.mem_check_interval", TypeDuration, "60s", "interval of memory checks").unit(sec), func(c *Config, v any) { c.Monitor.MemCheckInterval = asDur(v) }),
		f(sp("os_mon.sysmem_high_watermark", TypePercent, "70%", "system memory use that raises an alarm"), func(c *Config, v any) { c.Monitor.SysMemHighWatermark = asF64(v) }),
		raw(sp("os_mon.procmem_high_watermark", TypePercent, "5%", "memory of one Erlang process that raises an alarm").ne(OwnerVM)),
		raw(sp("vm_mon.check_interval", TypeDuration, "30s", "interval of process count checks").unit(sec).ne(OwnerVM)),
		raw(sp("vm_mon.process_high_watermark", TypePercent, "80%", "process count that raises an alarm").ne(OwnerVM)),
		raw(sp("vm_mon.process_low_watermark", TypePercent, "60%", "process count that clears the alarm").ne(OwnerVM)),
		f(sp("alarm.actions", TypeList, "log,publish", "what an alarm does").enum("log", "publish"), func(c *Config, v any) { c.Monitor.AlarmActions = asList(v) }),
		f(sp("alarm.size_limit", TypeInt, "1000", "cleared alarms kept").rng(0, 1<<31), func(c *Config, v any) { c.Monitor.AlarmSizeLimit = asInt(v) }),
		f(sp("alarm.validity_period", TypeDuration, "24h", "how long cleared alarms are kept"), func(c *Config, v any) { c.Monitor.AlarmValidityPeriod = asDur(v) }),
	)
	return append(defs, bridgeDefs()...)
}

// httpDefs returns the listener keys of the management API.
func httpDefs(prefix, port string, mg func(*Config) *Management) []fixedDef {
	var out []fixedDef
	for _, proto := range []string{"http", "https"} {
		base := prefix + ".listener." + proto
		get := func(c *Config) *HTTPListener {
			plain, l := &mg(c).HTTP, &mg(c).HTTPS
			if proto == "http" {
				return plain
			}
			if *l == nil {
				h := defaultHTTPListener()
				*l = &h
			}
			return *l
		}
		def := func(v string) string {
			if proto == "http" {
				return v
			}
			return ""
		}
		bindDef, doc := port, "port or ip:port of the "+prefix+" HTTP listener"
		if proto == "https" {
			bindDef, doc = "", "port or ip:port of the "+prefix+" HTTPS listener; unset to disable it"
		}
		out = append(out,
			f(sp(base, TypeAddr, bindDef, doc), func(c *Config, v any) { get(c).Bind = asStr(v) }),
			f(sp(base+".acceptors", TypeInt, def("2"), "acceptor processes").rng(1, 1024), func(c *Config, v any) { get(c).Acceptors = asInt(v) }),
			f(sp(base+".max_clients", TypeInt, def("512"), "concurrent HTTP connections").rng(1, 1<<31), func(c *Config, v any) { get(c).MaxClients = asInt(v) }),
			f(sp(base+".backlog", TypeInt, def("512"), "TCP accept backlog").rng(0, 1<<31), func(c *Config, v any) { get(c).Backlog = asInt(v) }),
			f(sp(base+".send_timeout", TypeDuration, def("15s"), "TCP send timeout"), func(c *Config, v any) { get(c).SendTimeout = asDur(v) }),
			f(sp(base+".send_timeout_close", TypeBool, def("on"), "close the connection on send timeout"), func(c *Config, v any) { get(c).SendTimeoutClose = asBool(v) }),
			f(sp(base+".inet6", TypeBool, def("false"), "listen on IPv6"), func(c *Config, v any) { get(c).Inet6 = asBool(v) }),
			f(sp(base+".ipv6_v6only", TypeBool, def("false"), "IPv6 socket accepts IPv6 only"), func(c *Config, v any) { get(c).IPv6Only = asBool(v) }),
		)
		if proto == "https" {
			out = append(out,
				f(sp(base+".keyfile", TypePath, "", "private key (PEM)"), func(c *Config, v any) { get(c).KeyFile = asStr(v) }),
				f(sp(base+".certfile", TypePath, "", "certificate (PEM)"), func(c *Config, v any) { get(c).CertFile = asStr(v) }),
				f(sp(base+".cacertfile", TypePath, "", "CA certificates (PEM)"), func(c *Config, v any) { get(c).CACertFile = asStr(v) }),
				f(sp(base+".verify", TypeEnum, "", "verify client certificates").enum("verify_peer", "verify_none"), func(c *Config, v any) { get(c).VerifyPeer = asStr(v) == "verify_peer" }),
				f(sp(base+".fail_if_no_peer_cert", TypeBool, "", "refuse clients without a certificate"), func(c *Config, v any) { get(c).FailIfNoPeerCert = asBool(v) }),
				f(sp(base+".tls_versions", TypeList, "", "TLS versions accepted; unset for Go's defaults").enum("tlsv1.3", "tlsv1.2", "tlsv1.1", "tlsv1"), func(c *Config, v any) { get(c).TLSVersions = asList(v) }),
				f(sp(base+".ciphers", TypeList, "", "cipher suites by OpenSSL name; unset for Go's defaults"), func(c *Config, v any) { get(c).Ciphers = asList(v) }),
			)
		}
	}
	for _, d := range out {
		if !managementHTTPActs[d.spec.Key] {
			d.spec.ne(OwnerManagement)
		}
	}
	return out
}

// managementHTTPActs are the keys of the API's HTTP and HTTPS listeners that the HTTP API
// reads (cmd/internal/wire.HTTPAPI, HTTPSAPI); acceptors, backlog (the system's somaxconn) and
// send_timeout_close (a write timeout always closes) have no effect, nor the HTTPS listener's
// send_timeout (one server serves both listeners: the HTTP listener's send_timeout applies).
var managementHTTPActs = map[string]bool{
	"management.listener.http":                       true,
	"management.listener.http.max_clients":           true,
	"management.listener.http.send_timeout":          true,
	"management.listener.http.inet6":                 true,
	"management.listener.http.ipv6_v6only":           true,
	"management.listener.https":                      true,
	"management.listener.https.max_clients":          true,
	"management.listener.https.send_timeout":         true,
	"management.listener.https.inet6":                true,
	"management.listener.https.ipv6_v6only":          true,
	"management.listener.https.keyfile":              true,
	"management.listener.https.certfile":             true,
	"management.listener.https.cacertfile":           true,
	"management.listener.https.verify":               true,
	"management.listener.https.fail_if_no_peer_cert": true,
	"management.listener.https.tls_versions":         true,
	"management.listener.https.ciphers":              true,
}

// defaultHTTPListener is an HTTPS listener before its keys apply: the settings that act and
// that its keys have no default for (acceptors, backlog and send_timeout_close act on no
// listener).
func defaultHTTPListener() HTTPListener {
	return HTTPListener{MaxClients: 512, SendTimeout: 15 * time.Second}
}

// bridgeDefs accepts the keys of EMQX's MQTT bridge, which normally live in
// etc/plugins/emqx_bridge_mqtt.conf; in emqx.conf they have no effect.
func bridgeDefs() []fixedDef {
	b := "bridge.mqtt.$name"
	note := "MQTT bridge setting; belongs in etc/plugins/emqx_bridge_mqtt.conf"
	return []fixedDef{
		raw(sp(b+".address", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".proto_ver", TypeEnum, "", note).enum("mqttv3", "mqttv4", "mqttv5").ne(OwnerBridge)),
		raw(sp(b+".start_type", TypeEnum, "", note).enum("manual", "auto").ne(OwnerBridge)),
		raw(sp(b+".bridge_mode", TypeBool, "", note).ne(OwnerBridge)),
		raw(sp(b+".client_id", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".clientid", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".clean_start", TypeBool, "", note).ne(OwnerBridge)),
		raw(sp(b+".username", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".password", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".ssl", TypeBool, "", note).ne(OwnerBridge)),
		raw(sp(b+".cacertfile", TypePath, "", note).ne(OwnerBridge)),
		raw(sp(b+".certfile", TypePath, "", note).ne(OwnerBridge)),
		raw(sp(b+".keyfile", TypePath, "", note).ne(OwnerBridge)),
		raw(sp(b+".ciphers", TypeList, "", note).ne(OwnerBridge)),
		raw(sp(b+".psk_ciphers", TypeList, "", note).ne(OwnerBridge)),
		raw(sp(b+".psk_identity", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".tls_versions", TypeList, "", note).ne(OwnerBridge)),
		raw(sp(b+".keepalive", TypeDuration, "", note).unit(time.Second).ne(OwnerBridge)),
		raw(sp(b+".forwards", TypeList, "", note).ne(OwnerBridge)),
		raw(sp(b+".mountpoint", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".subscription.$n.topic", TypeString, "", note).ne(OwnerBridge)),
		raw(sp(b+".subscription.$n.qos", TypeInt, "", note).rng(0, 2).ne(OwnerBridge)),
		raw(sp(b+".reconnect_interval", TypeDuration, "", note).unit(time.Second).ne(OwnerBridge)),
		raw(sp(b+".retry_interval", TypeDuration, "", note).unit(time.Second).ne(OwnerBridge)),
		raw(sp(b+".max_inflight_batches", TypeInt, "", note).ne(OwnerBridge)),
		raw(sp(b+".queue.batch_count_limit", TypeInt, "", note).ne(OwnerBridge)),
		raw(sp(b+".queue.batch_bytes_limit", TypeBytes, "", note).ne(OwnerBridge)),
		raw(sp(b+".queue.replayq_dir", TypePath, "", note).ne(OwnerBridge)),
		raw(sp(b+".queue.replayq_seg_bytes", TypeBytes, "", note).ne(OwnerBridge)),
	}
}
