package config

import (
	"strconv"
	"time"
)

// Config is the whole broker configuration. It is immutable once Load, Parse or Default has
// returned it: no field, map or slice in it may be modified, and it is safe to share between
// goroutines. A reload builds a new Config and swaps a pointer.
type Config struct {
	Node      Node
	Cluster   Cluster
	Log       Log
	ACL       ACL
	Listeners []Listener // ordered by kind (tcp, ssl, ws, wss), then name
	// MQTT holds the global mqtt.* settings. It is the zone of listeners without a zone key,
	// and the fallback of every zone key a zone leaves unset.
	MQTT Zone
	// Zones are the zones named by zone.$name.* keys, each resolved against MQTT.
	Zones       map[string]*Zone
	Broker      Broker
	Modules     Modules
	Plugins     Plugins
	Retainer    Retainer
	Persistence Persistence
	Management  Management
	Monitor     Monitor // sysmon.*, os_mon.*, alarm.* keys acted on
	// Raw maps every key to its value as text: each key that was set in the file or the
	// environment, and every non-pattern key that has a default. Plugins and bridges read their
	// keys here (or through Get). Relative paths appear resolved against the home (LoadAt).
	Raw map[string]string

	origins map[string]source // where each key set in a file or the environment came from
}

// Origin is where a key's value came from: a line of a file, or an environment variable.
type Origin struct {
	File string // file name as given to Load, or EmbeddedName
	Line int    // 1-based line in File
	Env  string // the EMQX_ variable, or ""
}

// Explicit reports whether the operator wrote the value: in the environment, or in a
// configuration file other than the embedded default.
func (o Origin) Explicit() bool {
	return o.Env != "" || o.File != "" && o.File != EmbeddedName && o.File != defaultName
}

// String says where the value came from: "file:line" or "environment variable NAME".
func (o Origin) String() string {
	if o.Env != "" {
		return "environment variable " + o.Env
	}
	return o.File + ":" + strconv.Itoa(o.Line)
}

// Origin returns where key was set, and false when it was not set (a default of the schema
// applies, or nothing). Safe for concurrent use.
func (c *Config) Origin(key string) (Origin, bool) {
	s, ok := c.origins[key]
	return Origin{File: s.file, Line: s.line, Env: s.env}, ok
}

// Get returns the value of key as text and whether it is set (in the file, the environment,
// or by a default of a non-pattern key). Safe for concurrent use.
func (c *Config) Get(key string) (string, bool) {
	v, ok := c.Raw[key]
	return v, ok
}

// ZoneOf returns the zone of a listener: Zones[l.Zone], or &c.MQTT when the listener names
// no zone. Load guarantees that every named zone exists.
func (c *Config) ZoneOf(l *Listener) *Zone {
	if z := c.Zones[l.Zone]; z != nil {
		return z
	}
	return &c.MQTT
}

// Node is the node.* group. Keys of the Erlang VM are accepted but have no effect.
type Node struct {
	Name      string // node.name, e.g. emqx@127.0.0.1; used in $SYS/brokers/<node>/
	Home      string // node.home, or the home given to LoadAt; "" when paths are left as written
	Cookie    string // node.cookie: shared secret of the nodes of a cluster (route password)
	DataDir   string // node.data_dir
	CrashDump string // node.crash_dump (no effect)
	// GCMaxRate is node.gc_max_rate: collections per second the GC pacer aims not to
	// exceed while the node is busy (engine/service/gcpace); 0: no pacing.
	GCMaxRate int
	// GCMaxExtraHeap is node.gc_max_extra_heap: the most heap the pacer adds.
	GCMaxExtraHeap int64
	// AuthStormProcs is node.auth_storm_procs: the Go processors added while clients queue
	// for an authentication plugin's backend, as a share of the default (1 doubles them;
	// engine/service/procboost); 0: none.
	AuthStormProcs float64
}

// Cluster is the cluster.* group (engine/service/cluster).
type Cluster struct {
	Name        string        // cluster.name: nodes of other clusters are refused
	Discovery   string        // manual, static, dns (mcast, etcd, k8s: refused at start)
	Autoheal    bool          // a node cut off and back in the same run rejoins by itself
	Autoclean   time.Duration // a node down this long is forgotten
	StaticSeeds []string      // cluster.static.seeds: name@host or name@host:port
	Listen      string        // cluster.listen: route listener, ip:port or port; "" = no clustering
	ProtoDist   string        // cluster.proto_dist: inet_tls turns TLS on like SSL.On
	SSL         ClusterSSL    // cluster.ssl.*: TLS between nodes (schema_cluster_net.go)
	DNS         ClusterDNS    // cluster.dns.*: dns discovery
	// RPCServerPort is rpc.tcp_server_port: the RPC bridges' listener (with cluster.listen).
	RPCServerPort int
	// RPCClientPort is rpc.tcp_client_port: the port RPC bridges dial when the remote's node
	// name has none.
	RPCClientPort int
}

// Log is the log.* group.
type Log struct {
	To            string            // off, file, console, both
	Level         string            // debug … emergency
	Dir           string            // directory of log files
	File          string            // main log file name, in Dir
	CharsLimit    int               // 0 = no limit
	Rotation      bool              // rotate the main log file
	RotationSize  int64             // bytes
	RotationCount int               // files kept
	LevelFiles    map[string]string // log.$level.file: extra files per level, e.g. "error": "error.log"
	Formatter     string            // text or json
	SingleLine    bool
}

// ACL holds the global authentication and access-control keys. allow_anonymous and
// acl_deny_action are zone settings: their global values are in Config.MQTT.
type ACL struct {
	NoMatch        string         // acl_nomatch: allow or deny
	File           string         // acl_file
	EnableCache    bool           // enable_acl_cache
	CacheMaxSize   int            // acl_cache_max_size
	CacheTTL       time.Duration  // acl_cache_ttl
	FlappingPolicy FlappingPolicy // flapping_detect_policy; zones enable it with enable_flapping_detect
}

// Kind is the transport of a listener.
type Kind string

// Listener kinds, in the order listeners are sorted.
const (
	KindTCP Kind = "tcp" // MQTT over TCP
	KindSSL Kind = "ssl" // MQTT over TLS
	KindWS  Kind = "ws"  // MQTT over WebSocket
	KindWSS Kind = "wss" // MQTT over WebSocket over TLS
)

var kinds = []Kind{KindTCP, KindSSL, KindWS, KindWSS}

// Listener is one listener.$kind.$name group.
type Listener struct {
	Kind                 Kind
	Name                 string // e.g. "external"
	Bind                 string // address for net.Listen, e.g. "0.0.0.0:1883" or ":8883"
	Zone                 string // zone name; "" means the global mqtt.* settings
	Acceptors            int    // no effect: the event loops accept
	MaxConnections       int
	MaxConnRate          int          // new connections per second
	ActiveN              int          // no effect
	Access               []AccessRule // in order of access.$n; the first match decides; empty allows all
	ProxyProtocol        bool
	ProxyProtocolTimeout time.Duration
	PeerCertAsUsername   string // "", cn, dn or crt
	PeerCertAsClientID   string // "", cn, dn or crt (EMQX 4.x)
	Backlog              int
	SendTimeout          time.Duration
	SendTimeoutClose     bool
	RecBuf               int64 // 0 = OS default
	SndBuf               int64 // 0 = OS default
	Buffer               int64 // no effect
	TuneBuffer           bool  // no effect
	HighWatermark        int64 // pending outbound bytes before the connection counts as busy
	NoDelay              bool
	ReuseAddr            bool
	RateLimit            Rate       // inbound bytes per connection; zero = none
	MaxPacketSize        int64      // 0 = the zone's
	TLS                  *TLS       // set for ssl and wss
	WS                   *WebSocket // set for ws and wss
}

// TLS holds the TLS keys of ssl and wss listeners.
type TLS struct {
	Versions          []string // tlsv1, tlsv1.1, tlsv1.2, tlsv1.3
	HandshakeTimeout  time.Duration
	Depth             int
	KeyPassword       string
	KeyFile           string
	CertFile          string
	CACertFile        string
	DHFile            string // no effect (Go's TLS has ECDHE only)
	VerifyPeer        bool   // verify = verify_peer
	FailIfNoPeerCert  bool
	Ciphers           []string // OpenSSL names
	PSKCiphers        []string // OpenSSL names, e.g. PSK-AES128-CBC-SHA
	SecureRenegotiate bool     // no effect: Go's TLS never renegotiates
	ReuseSessions     bool
	HonorCipherOrder  bool   // no effect: Go's TLS chooses the order itself
	CryptoBackend     string // crypto_backend (beyond EMQX): auto, openssl or go
}

// WebSocket holds the keys of ws and wss listeners.
type WebSocket struct {
	Path                  string // mqtt_path, e.g. /mqtt
	VerifyProtocolHeader  bool
	ProxyAddressHeader    string
	ProxyPortHeader       string
	Compress              bool
	DeflateLevel          string
	ClientContextTakeover string // deflate_opts.client_context_takeover: takeover or no_takeover
	ClientMaxWindowBits   int    // deflate_opts.client_max_window_bits, 0: unset
	IdleTimeout           time.Duration
	MaxFrameSize          int
	Piggyback             string // single or multiple
	CheckOriginEnable     bool
	AllowOriginAbsence    bool
	CheckOrigins          []string
}

// Zone is a set of MQTT and session settings shared by listeners (zone.$name.*, or the global
// mqtt.* keys for Config.MQTT).
type Zone struct {
	Name                   string // "" for the global settings
	IdleTimeout            time.Duration
	AllowAnonymous         bool
	BypassAuthPlugins      bool
	EnableACL              bool
	EnableBan              bool
	EnableStats            bool
	ACLDenyAction          string // ignore or disconnect
	ForceGCPolicy          GCPolicy
	ForceShutdownPolicy    GCPolicy
	MaxPacketSize          int64
	MaxClientIDLen         int
	MaxTopicLevels         int // 0 = no limit
	MaxQoSAllowed          int
	MaxTopicAlias          int
	MaxOutboundTopicAlias  int // 0: the broker sends no topic aliases
	RetainAvailable        bool
	WildcardSubscription   bool
	SharedSubscription     bool
	ServerKeepalive        time.Duration // 0 = use the client's keepalive
	KeepaliveBackoff       float64
	MaxSubscriptions       int // 0 = no limit
	UpgradeQoS             bool
	MaxInflight            int
	RetryInterval          time.Duration
	MaxAwaitingRel         int // 0 = no limit
	AwaitRelTimeout        time.Duration
	SessionExpiryInterval  time.Duration
	MaxMqueueLen           int // 0 = no limit
	MqueuePriorities       []TopicPriority
	MqueueDefaultPriority  string // highest or lowest
	MqueueStoreQoS0        bool
	EnableFlappingDetect   bool
	FlappingThreshold      Rate          // flapping_threshold (EMQX 3.2); zero: the global policy's
	FlappingBanTime        time.Duration // flapping_banned_expiry_interval (EMQX 3.2); zero: the global policy's
	UseUsernameAsClientID  bool
	IgnoreLoopDeliver      bool
	StrictMode             bool
	Mountpoint             string // %c and %u are replaced by client id and username
	PublishLimit           Rate   // PUBLISH packets per connection
	ConnMessagesIn         Rate   // rate_limit.conn_messages_in
	ConnBytesIn            Rate   // rate_limit.conn_bytes_in
	ConnMessagesRouting    Rate   // quota.conn_messages_routing
	OverallMessagesRouting Rate   // quota.overall_messages_routing
	ResponseInformation    string
	LingerTimeout          time.Duration // 0: close at once
	LingerBytes            int64
}

// Broker is the broker.* group.
type Broker struct {
	SysInterval                time.Duration
	SysHeartbeat               time.Duration
	EnableSessionRegistry      bool   // no effect
	SessionLockingStrategy     string // no effect
	SharedSubscriptionStrategy string // random, round_robin, sticky, hash, hash_clientid, hash_topic
	SharedDispatchAckEnabled   bool
	RouteBatchClean            bool // no effect
}

// Modules is the module.* group.
type Modules struct {
	Presence      bool
	PresenceQoS   int
	Subscription  bool
	Subscriptions []ModuleSubscription // module.subscription.$n.*, ordered by n
	Rewrite       bool
	RewriteRules  []RewriteRule // module.rewrite[.pub|.sub].rule.$n, ordered by action, then n
}

// ModuleSubscription is one topic the subscription module subscribes a client to on connect.
type ModuleSubscription struct {
	Topic string // %c and %u are replaced by client id and username
	QoS   int
	NL    int
	RAP   int
	RH    int
}

// Plugins is the plugins.* group.
type Plugins struct {
	EtcDir           string
	LoadedFile       string
	ExpandPluginsDir string
}

// Retainer is the retainer.* group (EMQX's etc/plugins/emqx_retainer.conf, kept in emqx.conf).
type Retainer struct {
	StorageType         string // ram, disc or disc_only
	MaxRetainedMessages int    // 0 = no limit
	MaxPayloadSize      int64
	ExpiryInterval      time.Duration // 0 = never expire
}

// Persistence is the persistence.* group: the durable store of retained messages and
// persistent sessions.
type Persistence struct {
	Enable         bool
	Dir            string
	Fsync          string // always, interval or never
	FsyncInterval  time.Duration
	SegmentSize    int64
	CompactRatio   float64 // fraction of dead bytes that triggers compaction
	CompactMinSize int64
}

// HTTPListener is an HTTP(S) listener of the management API.
type HTTPListener struct {
	Bind             string
	Acceptors        int // no effect
	MaxClients       int
	Backlog          int
	SendTimeout      time.Duration
	SendTimeoutClose bool
	Inet6            bool
	IPv6Only         bool
	KeyFile          string   // HTTPS only
	CertFile         string   // HTTPS only
	CACertFile       string   // HTTPS only
	VerifyPeer       bool     // HTTPS only
	FailIfNoPeerCert bool     // HTTPS only
	TLSVersions      []string // HTTPS only; empty: Go's defaults
	Ciphers          []string // HTTPS only, OpenSSL names; empty: Go's defaults
}

// Management is the management.* group: the HTTP API (/api/v3, /api/v4, /metrics).
type Management struct {
	HTTP        HTTPListener
	HTTPS       *HTTPListener // nil unless management.listener.https is set
	AppID       string        // default application id (HTTP basic auth user)
	AppSecret   string        // default application secret
	MaxRowLimit int
}
