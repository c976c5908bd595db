package engine

import (
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/rewrite"
	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/sessions"
)

// Zone is the resolved set of MQTT and session settings a listener applies to its clients
// (EMQX's zone.<name>.* keys over the mqtt.* defaults). Immutable once the node starts.
type Zone struct {
	Name string

	MaxPacketSize        uint32 // bytes; larger inbound packets are refused with 0x95
	MaxClientIDLen       int
	MaxTopicLevels       int // 0: no limit beyond the trie's (trie.MaxLevels, also the limit above it: levels.go)
	MaxQoSAllowed        uint8
	MaxTopicAlias        uint16 // Topic Alias Maximum announced to v5 clients
	RetainAvailable      bool
	WildcardSubscription bool
	SharedSubscription   bool
	IgnoreLoopDeliver    bool   // do not send a client the messages it published itself (all versions)
	ServerKeepalive      uint16 // seconds; 0: use the client's keep alive
	// ResponseInformation is sent in the CONNACK of MQTT 5 clients that request it
	// (mqtt.response_information: the basis of their response topics); "" sends none.
	ResponseInformation string
	// MaxOutboundTopicAlias caps the topic aliases the broker assigns to each MQTT 5 client
	// that accepts some (below its own Topic Alias Maximum); 0 sends none (outalias.go).
	MaxOutboundTopicAlias uint16

	IdleTimeout           time.Duration // a socket that sends no CONNECT within this is closed
	KeepaliveBackoff      float64       // keep alive is enforced at KeepaliveBackoff × 2 × keep alive... see conn.go
	MaxInflight           int
	RetryInterval         time.Duration
	MaxAwaitingRel        int
	AwaitRelTimeout       time.Duration
	SessionExpiryInterval time.Duration // for MQTT 3.x clients with clean session false
	MaxMqueueLen          int
	MqueueStoreQoS0       bool
	MaxSubscriptions      int // 0: no limit
	UpgradeQoS            bool
	UseUsernameAsClientID bool
	Mountpoint            string
	EnableACL             bool
	ACLDenyAction         string // "ignore" or "disconnect"

	// AllowAnonymous decides for the zone's clients when no authenticator does
	// (zone.<name>.allow_anonymous); nil leaves it to Config.AllowAnonymous.
	AllowAnonymous *bool
	// BypassAuthPlugins admits the zone's clients without running the authentication chain
	// (zone.<name>.bypass_auth_plugins; e.g. the internal zone of local clients).
	BypassAuthPlugins bool
	// StrictMode (zone.<name>.strict_mode) refuses client ids, user names, will topics,
	// PUBLISH topics and SUBSCRIBE/UNSUBSCRIBE filters that hold control characters or
	// Unicode non-characters (codec.StrictUTF8), as EMQX's strict mode does.
	StrictMode bool
	// EnableBan refuses the clients of the banned table (zone.<name>.enable_ban; Node.AddBan).
	EnableBan bool
	// EnableFlappingDetect bans client ids that connect too often (Config.Flapping).
	EnableFlappingDetect bool
	// Flapping replaces Config.Flapping's threshold and window for the zone's clients when
	// its Threshold is set, and its ban time when its Ban is (EMQX 3.2's
	// zone.<z>.flapping_threshold and flapping_banned_expiry_interval).
	Flapping FlappingPolicy

	// Slow-consumer policy, per connection: past HighWater bytes waiting in the socket's
	// outbound buffer QoS 0 messages are dropped (counted) and QoS 1/2 stay queued in the
	// session (bounded by max_mqueue_len); output resumes once the backlog falls to half of
	// HighWater. A client whose backlog stays above HighWater for SendTimeout (EMQX's
	// send_timeout with send_timeout_close) is disconnected (v5: 0x97), and so is one whose
	// backlog passes CloseWater (one huge message).
	HighWater   int
	CloseWater  int           // also force_shutdown_policy's bytes (forceshutdown.go)
	SendTimeout time.Duration // 0: never close a slow consumer for being slow
	// ForceShutdownQueue closes a connection whose session queue grows past it while it is
	// connected (force_shutdown_policy's count, forceshutdown.go); 0: no bound but
	// MaxMqueueLen.
	ForceShutdownQueue int

	// Lingering close (linger.go): a connection closed because of its input keeps reading
	// and dropping for up to LingerTimeout (0: no linger, the socket closes at once) or
	// LingerBytes (0: DefaultLingerBytes) after its write side is shut, so that the reason
	// reaches the client (mqtt.linger_timeout, mqtt.linger_bytes).
	LingerTimeout time.Duration
	LingerBytes   int

	// Rate limits on each connection's input (ratelimit.go); the zero Rate sets none. Over a
	// limit the connection is throttled (its input waits unread), never disconnected for it.
	PublishLimit   Rate // PUBLISH packets (publish_limit)
	ConnMessagesIn Rate // PUBLISH packets (rate_limit.conn_messages_in)
	ConnBytesIn    Rate // bytes of every packet (rate_limit.conn_bytes_in)
}

// Listener is one MQTT listener as configured (listener.<kind>.<name>).
type Listener struct {
	Kind           string // "tcp", "ssl", "ws" or "wss"
	Name           string // e.g. "external"
	Addr           string // host:port
	Zone           *Zone
	Access         []AccessRule // checked in order at accept time; none: allow all
	MaxConnections int          // 0: unlimited
	MaxConnRate    int          // new connections per second, 0: unlimited; more wait (admission.go)
	Nagle          bool         // nodelay = false: Nagle's algorithm on (TCP_NODELAY is the default)
	RecBuf, SndBuf int          // socket buffer sizes, 0: the system's
	RateLimit      Rate         // bytes in per connection (rate_limit), as the zone's ConnBytesIn

	// ProxyProtocol expects a PROXY protocol v1 or v2 header before the MQTT bytes of every
	// connection (proxy.go); ProxyProtocolTimeout bounds its arrival (0: 3 s).
	ProxyProtocol        bool
	ProxyProtocolTimeout time.Duration
	// Reload, when set, runs first on a restart of the listener (Node.RestartListener), on
	// the caller's goroutine: a transport re-reads its files there (TLS certificates). An
	// error leaves the listener as it was.
	Reload func() error
	TLS    *TLSListener // kinds "ssl" and "wss": the TLS settings (listener_tls.go)
	// WebSocket is set for MQTT over WebSocket listeners (kinds "ws" and "wss"): the upgrade
	// and framing settings, shared read-only by the listener's connections (ws.go,
	// listener_wss.go).
	WebSocket *transport.WebSocketOptions
}

// Config is everything the engine needs, resolved from emqx.conf by cmd/internal/wire or built
// directly by tests. Immutable once passed to New.
type Config struct {
	NodeName  string // node.name, e.g. emqx@127.0.0.1 (see Node.Name)
	Listeners []Listener

	AllowAnonymous bool           // for zones whose AllowAnonymous is nil
	Flapping       FlappingPolicy // flapping_detect_policy, for zones with EnableFlappingDetect
	ACLNoMatch     acl.Result     // Allow or Deny when no rule matches; the zero value allows
	ACL            *acl.Rules     // may be nil: no rules, ACLNoMatch decides everything
	// ACLCacheSize is how many publish decisions each connection remembers, for
	// ACLCacheTTL (enable_acl_cache, acl_cache_max_size, acl_cache_ttl); 0 disables it.
	ACLCacheSize int
	ACLCacheTTL  time.Duration
	// ACLTimeout bounds one run of the access-control chain (Authorizers); 0: 5 s.
	ACLTimeout time.Duration

	SharedStrategy string // random, round_robin, sticky, hash

	// AutoSubscriptions are subscribed for every client that connects (module.subscription,
	// see modules.go); empty: the module is off.
	AutoSubscriptions []AutoSubscription
	// RewritePublish rewrites PUBLISH and will topics, RewriteSubscribe SUBSCRIBE and
	// UNSUBSCRIBE filters (module.rewrite, see modules.go); nil: no rewriting.
	RewritePublish   *rewrite.Rules
	RewriteSubscribe *rewrite.Rules

	RetainerMaxMessages int           // 0: unlimited
	RetainerMaxPayload  int           // bytes, 0: unlimited
	RetainerExpiry      int64         // seconds, 0: never
	LoopCount           int           // event loops; 0: one per CPU
	SweepInterval       time.Duration // keep-alive/idle sweep period; 0: 1s
	SidePoolSize        int           // goroutines for blocking work such as authentication; 0: 4096

	// Store is the durable store (persistence.*): retained messages are loaded from it by
	// Start and written to it as they change; Stop closes it. nil keeps everything in memory.
	Store *sessions.Store
}

// DefaultZone returns the settings of EMQX's default "external" zone.
func DefaultZone() *Zone {
	return &Zone{
		Name:                  "external",
		MaxPacketSize:         1 << 20,
		MaxClientIDLen:        65535,
		MaxTopicLevels:        0,
		MaxQoSAllowed:         2,
		MaxTopicAlias:         65535,
		MaxOutboundTopicAlias: DefaultMaxOutboundTopicAlias,
		RetainAvailable:       true,
		WildcardSubscription:  true,
		SharedSubscription:    true,
		IdleTimeout:           15 * time.Second,
		KeepaliveBackoff:      0.75,
		MaxInflight:           32,
		RetryInterval:         30 * time.Second,
		MaxAwaitingRel:        100,
		AwaitRelTimeout:       300 * time.Second,
		SessionExpiryInterval: 2 * time.Hour,
		MaxMqueueLen:          1000,
		MqueueStoreQoS0:       true,
		EnableACL:             true,
		ACLDenyAction:         "ignore",
		HighWater:             1 << 20,
		CloseWater:            64 << 20,
		SendTimeout:           15 * time.Second,
		LingerTimeout:         DefaultLingerTimeout,
		LingerBytes:           DefaultLingerBytes,
	}
}
