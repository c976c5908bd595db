package config

import "time"

// zoneDef is one zone setting. It yields two keys: zone.$name.<key> and its global fallback
// (mqtt.<key>, or a top-level key for allow_anonymous and acl_deny_action).
type zoneDef struct {
	spec   *Spec // Key is the part after zone.$name.
	global string
	set    func(z *Zone, v any)
}

func zd(s *Spec, set func(z *Zone, v any)) zoneDef {
	return zoneDef{spec: s, global: "mqtt." + s.Key, set: set}
}

func zoneDefs() []zoneDef {
	sec := time.Second
	defs := []zoneDef{
		zd(sp("idle_timeout", TypeDuration, "15s", "time allowed between TCP connect and the CONNECT packet"), func(z *Zone, v any) { z.IdleTimeout = asDur(v) }),
		{spec: sp("allow_anonymous", TypeBool, "", "per-zone allow_anonymous"), global: "allow_anonymous", set: func(z *Zone, v any) { z.AllowAnonymous = asBool(v) }},
		zd(sp("bypass_auth_plugins", TypeBool, "false", "admit clients of the zone without running the auth plugins"), func(z *Zone, v any) { z.BypassAuthPlugins = asBool(v) }),
		zd(sp("enable_acl", TypeBool, "on", "check publish and subscribe against the ACL"), func(z *Zone, v any) { z.EnableACL = asBool(v) }),
		zd(sp("enable_ban", TypeBool, "on", "refuse banned clients"), func(z *Zone, v any) { z.EnableBan = asBool(v) }),
		zd(sp("enable_stats", TypeBool, "on", "keep per-connection statistics").ne(OwnerManagement), func(z *Zone, v any) { z.EnableStats = asBool(v) }),
		{spec: sp("acl_deny_action", TypeEnum, "", "per-zone acl_deny_action").enum("ignore", "disconnect"), global: "acl_deny_action", set: func(z *Zone, v any) { z.ACLDenyAction = asStr(v) }},
		zd(sp("force_gc_policy", TypeGCPolicy, "1000|1MB", "Erlang process GC trigger").ne(OwnerVM), func(z *Zone, v any) { z.ForceGCPolicy = asGC(v) }),
		zd(sp("force_shutdown_policy", TypeGCPolicy, "8000|800MB", "messages queued for a connected client (its session queue) and bytes waiting for its socket at which it is closed (0x97); 0 disables a bound"), func(z *Zone, v any) { z.ForceShutdownPolicy = asGC(v) }),
		zd(sp("max_packet_size", TypeBytes, "1MB", "largest MQTT packet accepted").rng(1, 256<<20), func(z *Zone, v any) { z.MaxPacketSize = asI64(v) }),
		zd(sp("max_clientid_len", TypeInt, "65535", "longest client id accepted").rng(23, 65535), func(z *Zone, v any) { z.MaxClientIDLen = asInt(v) }),
		zd(sp("max_topic_levels", TypeInt, "0", "most levels in a topic or filter; 0 (or above 128) for the broker's limit, 128").rng(0, 65535), func(z *Zone, v any) { z.MaxTopicLevels = asInt(v) }),
		zd(sp("max_qos_allowed", TypeInt, "2", "highest QoS granted").rng(0, 2), func(z *Zone, v any) { z.MaxQoSAllowed = asInt(v) }),
		zd(sp("max_topic_alias", TypeInt, "65535", "topic aliases per MQTT 5 connection; 0 disables them").rng(0, 65535), func(z *Zone, v any) { z.MaxTopicAlias = asInt(v) }),
		zd(sp("max_outbound_topic_alias", TypeInt, "32", "topic aliases the broker assigns to each MQTT 5 client that accepts some (within its Topic Alias Maximum); 0 turns outbound aliases off").rng(0, 65535), func(z *Zone, v any) { z.MaxOutboundTopicAlias = asInt(v) }),
		zd(sp("retain_available", TypeBool, "true", "support retained messages"), func(z *Zone, v any) { z.RetainAvailable = asBool(v) }),
		zd(sp("wildcard_subscription", TypeBool, "true", "allow wildcard subscriptions"), func(z *Zone, v any) { z.WildcardSubscription = asBool(v) }),
		zd(sp("shared_subscription", TypeBool, "true", "allow shared subscriptions"), func(z *Zone, v any) { z.SharedSubscription = asBool(v) }),
		zd(sp("server_keepalive", TypeDuration, "0", "keepalive imposed on MQTT 5 clients; 0 keeps the client's").unit(sec), func(z *Zone, v any) { z.ServerKeepalive = asDur(v) }),
		zd(sp("keepalive_backoff", TypeFloat, "0.75", "a client is dropped after keepalive x backoff x 2 of silence").rng(0.5, 100), func(z *Zone, v any) { z.KeepaliveBackoff = asF64(v) }),
		zd(sp("max_subscriptions", TypeInt, "0", "subscriptions per client; 0 for no limit").rng(0, 1<<31), func(z *Zone, v any) { z.MaxSubscriptions = asInt(v) }),
		zd(sp("upgrade_qos", TypeBool, "off", "deliver at the subscription's QoS even if the message's is lower"), func(z *Zone, v any) { z.UpgradeQoS = asBool(v) }),
		zd(sp("max_inflight", TypeInt, "32", "QoS 1/2 messages sent and not yet acknowledged per client").rng(1, 65535), func(z *Zone, v any) { z.MaxInflight = asInt(v) }),
		zd(sp("retry_interval", TypeDuration, "20s", "resend unacknowledged QoS 1/2 messages after this").unit(sec), func(z *Zone, v any) { z.RetryInterval = asDur(v) }),
		zd(sp("max_awaiting_rel", TypeInt, "100", "incoming QoS 2 messages awaiting PUBREL; 0 for no limit").rng(0, 65535), func(z *Zone, v any) { z.MaxAwaitingRel = asInt(v) }),
		zd(sp("await_rel_timeout", TypeDuration, "300s", "drop an incoming QoS 2 message whose PUBREL does not come in time").unit(sec), func(z *Zone, v any) { z.AwaitRelTimeout = asDur(v) }),
		zd(sp("session_expiry_interval", TypeDuration, "2h", "lifetime of a disconnected MQTT 3 persistent session").unit(sec), func(z *Zone, v any) { z.SessionExpiryInterval = asDur(v) }),
		zd(sp("max_mqueue_len", TypeInt, "1000", "messages queued per offline or busy session; 0 for no limit").rng(0, 1<<31), func(z *Zone, v any) { z.MaxMqueueLen = asInt(v) }),
		zd(sp("mqueue_priorities", TypePriorities, "none", "topic priorities in the session queue, e.g. a/1=10,a/2=8").ne(OwnerQueue), func(z *Zone, v any) { z.MqueuePriorities = asPrio(v) }),
		zd(sp("mqueue_default_priority", TypeEnum, "highest", "priority of topics missing from mqueue_priorities").enum("highest", "lowest").ne(OwnerQueue), func(z *Zone, v any) { z.MqueueDefaultPriority = asStr(v) }),
		zd(sp("mqueue_store_qos0", TypeBool, "true", "queue QoS 0 messages for offline sessions too"), func(z *Zone, v any) { z.MqueueStoreQoS0 = asBool(v) }),
		zd(sp("enable_flapping_detect", TypeBool, "off", "ban clients that reconnect too often (flapping_detect_policy)"), func(z *Zone, v any) { z.EnableFlappingDetect = asBool(v) }),
		zd(sp("flapping_threshold", TypeRate, "", "EMQX 3.2's per-zone flapping threshold, connects,window (e.g. 10, 1m); unset: flapping_detect_policy's"), func(z *Zone, v any) { z.FlappingThreshold = asRate(v) }),
		zd(sp("flapping_banned_expiry_interval", TypeDuration, "", "EMQX 3.2's per-zone ban time of flapping clients; unset: flapping_detect_policy's").unit(sec), func(z *Zone, v any) { z.FlappingBanTime = asDur(v) }),
		zd(sp("use_username_as_clientid", TypeBool, "false", "replace the client id by the username"), func(z *Zone, v any) { z.UseUsernameAsClientID = asBool(v) }),
		zd(sp("ignore_loop_deliver", TypeBool, "false", "do not deliver MQTT 3 messages back to their publisher"), func(z *Zone, v any) { z.IgnoreLoopDeliver = asBool(v) }),
		zd(sp("strict_mode", TypeBool, "false", "refuse client ids, user names, topics and filters holding control characters or Unicode non-characters"), func(z *Zone, v any) { z.StrictMode = asBool(v) }),
		zd(sp("mountpoint", TypeString, "", "prefix added to every topic of the zone's clients; %c client id, %u username"), func(z *Zone, v any) { z.Mountpoint = asStr(v) }),
		zd(sp("publish_limit", TypeRate, "", "PUBLISH packets per connection, count,duration"), func(z *Zone, v any) { z.PublishLimit = asRate(v) }),
		zd(sp("rate_limit.conn_messages_in", TypeRate, "", "incoming messages per connection, count,duration"), func(z *Zone, v any) { z.ConnMessagesIn = asRate(v) }),
		zd(sp("rate_limit.conn_bytes_in", TypeByteRate, "", "incoming bytes per connection, size,duration"), func(z *Zone, v any) { z.ConnBytesIn = asRate(v) }),
		zd(sp("quota.conn_messages_routing", TypeRate, "", "deliveries a connection may cause, count,duration").ne(OwnerQuota), func(z *Zone, v any) { z.ConnMessagesRouting = asRate(v) }),
		zd(sp("quota.overall_messages_routing", TypeRate, "", "deliveries all connections of the zone may cause, count,duration").ne(OwnerQuota), func(z *Zone, v any) { z.OverallMessagesRouting = asRate(v) }),
		zd(sp("linger_timeout", TypeDuration, "1s", "after closing a connection for what it sent, drain its input this long so that the reason reaches it; 0 closes at once"), func(z *Zone, v any) { z.LingerTimeout = asDur(v) }),
		zd(sp("linger_bytes", TypeBytes, "8MB", "most input drained from a connection closing with linger_timeout").rng(1, 1<<30), func(z *Zone, v any) { z.LingerBytes = asI64(v) }),
		zd(sp("response_information", TypeString, "", "MQTT 5 response information sent in CONNACK to clients that request it"), func(z *Zone, v any) { z.ResponseInformation = asStr(v) }),
	}
	return defs
}

// listenerDef is one listener setting: listener.<kind>.$name[.<suffix>].
type listenerDef struct {
	suffix   string // "" for the address key itself
	kinds    []Kind
	spec     Spec            // template: Key, Default are set per kind
	defaults map[Kind]string // per-kind default; missing kinds take spec.Default
	set      func(l *Listener, v any)
	// neOn marks the key without effect on some kinds only, with the reason.
	neOn map[Kind]string
}

func ld(suffix string, ks []Kind, s *Spec, set func(l *Listener, v any)) listenerDef {
	return listenerDef{suffix: suffix, kinds: ks, spec: *s, set: set}
}

func (d listenerDef) per(m map[Kind]string) listenerDef { d.defaults = m; return d }

// noEffectOn marks the key without effect (for owner) on kinds ks.
func (d listenerDef) noEffectOn(owner string, ks ...Kind) listenerDef {
	d.neOn = map[Kind]string{}
	for _, k := range ks {
		d.neOn[k] = owner
	}
	return d
}

func listenerDefs() []listenerDef {
	all := kinds
	tlsK := []Kind{KindSSL, KindWSS}
	wsK := []Kind{KindWS, KindWSS}
	sec := time.Second
	tlsOf := func(l *Listener) *TLS { return l.TLS }
	wsOf := func(l *Listener) *WebSocket { return l.WS }
	defs := []listenerDef{
		ld("", all, sp("", TypeAddr, "", "address the listener binds: ip:port or port"), func(l *Listener, v any) { l.Bind = asStr(v) }),
		ld("mqtt_path", wsK, sp("", TypeString, "/mqtt", "HTTP path of the MQTT WebSocket endpoint"), func(l *Listener, v any) { wsOf(l).Path = asStr(v) }),
		ld("acceptors", all, sp("", TypeInt, "8", "acceptor processes").rng(1, 1024).ne(OwnerVM), func(l *Listener, v any) { l.Acceptors = asInt(v) }).
			per(map[Kind]string{KindSSL: "16", KindWS: "4", KindWSS: "4"}),
		ld("max_connections", all, sp("", TypeInt, "1024000", "concurrent connections").rng(1, 1<<31), func(l *Listener, v any) { l.MaxConnections = asInt(v) }).
			per(map[Kind]string{KindSSL: "102400", KindWS: "102400", KindWSS: "102400"}),
		ld("max_conn_rate", all, sp("", TypeInt, "1000", "new connections per second").rng(1, 1<<31), func(l *Listener, v any) { l.MaxConnRate = asInt(v) }).
			per(map[Kind]string{KindSSL: "500"}),
		ld("active_n", all, sp("", TypeInt, "100", "Erlang socket option").ne(OwnerVM), func(l *Listener, v any) { l.ActiveN = asInt(v) }),
		ld("zone", all, sp("", TypeString, "", "zone whose settings the listener's clients get; unset for the mqtt.* settings"), func(l *Listener, v any) { l.Zone = asStr(v) }),
		ld("rate_limit", all, sp("", TypeByteRate, "", "incoming bytes per connection, size,duration"), func(l *Listener, v any) { l.RateLimit = asRate(v) }),
		ld("max_packet_size", all, sp("", TypeBytes, "", "largest MQTT packet on this listener; unset for the zone's").rng(1, 256<<20), func(l *Listener, v any) { l.MaxPacketSize = asI64(v) }),
		ld("verify_protocol_header", wsK, sp("", TypeBool, "on", "require the mqtt WebSocket subprotocol header"), func(l *Listener, v any) { wsOf(l).VerifyProtocolHeader = asBool(v) }),
		ld("proxy_address_header", wsK, sp("", TypeString, "", "HTTP header with the real client address behind a proxy"), func(l *Listener, v any) { wsOf(l).ProxyAddressHeader = asStr(v) }),
		ld("proxy_port_header", wsK, sp("", TypeString, "", "HTTP header with the real client port behind a proxy"), func(l *Listener, v any) { wsOf(l).ProxyPortHeader = asStr(v) }),
		ld("proxy_protocol", all, sp("", TypeBool, "", "expect a PROXY protocol v1/v2 header"), func(l *Listener, v any) { l.ProxyProtocol = asBool(v) }),
		ld("proxy_protocol_timeout", all, sp("", TypeDuration, "3s", "time allowed for the PROXY header").unit(sec), func(l *Listener, v any) { l.ProxyProtocolTimeout = asDur(v) }),
		ld("tls_versions", tlsK, sp("", TypeList, "tlsv1.2,tlsv1.1,tlsv1", "TLS versions accepted").enum("tlsv1.3", "tlsv1.2", "tlsv1.1", "tlsv1"), func(l *Listener, v any) { tlsOf(l).Versions = asList(v) }),
		ld("handshake_timeout", tlsK, sp("", TypeDuration, "15s", "time allowed for the TLS handshake").unit(sec), func(l *Listener, v any) { tlsOf(l).HandshakeTimeout = asDur(v) }),
		ld("depth", tlsK, sp("", TypeInt, "10", "longest chain of intermediate certificates").rng(0, 255), func(l *Listener, v any) { tlsOf(l).Depth = asInt(v) }),
		ld("key_password", tlsK, sp("", TypeString, "", "password of an encrypted keyfile"), func(l *Listener, v any) { tlsOf(l).KeyPassword = asStr(v) }),
		ld("keyfile", tlsK, sp("", TypePath, "", "private key (PEM)"), func(l *Listener, v any) { tlsOf(l).KeyFile = asStr(v) }),
		ld("certfile", tlsK, sp("", TypePath, "", "certificate chain (PEM)"), func(l *Listener, v any) { tlsOf(l).CertFile = asStr(v) }),
		ld("cacertfile", tlsK, sp("", TypePath, "", "CA certificates for client certificates (PEM)"), func(l *Listener, v any) { tlsOf(l).CACertFile = asStr(v) }),
		ld("dhfile", tlsK, sp("", TypePath, "", "Diffie-Hellman parameters").ne(OwnerGoTLS), func(l *Listener, v any) { tlsOf(l).DHFile = asStr(v) }),
		ld("verify", tlsK, sp("", TypeEnum, "verify_none", "verify client certificates").enum("verify_peer", "verify_none"), func(l *Listener, v any) { tlsOf(l).VerifyPeer = asStr(v) == "verify_peer" }),
		ld("fail_if_no_peer_cert", tlsK, sp("", TypeBool, "false", "with verify_peer, refuse clients without a certificate"), func(l *Listener, v any) { tlsOf(l).FailIfNoPeerCert = asBool(v) }),
		ld("ciphers", tlsK, sp("", TypeList, "", "cipher suites by OpenSSL name; unset for the defaults"), func(l *Listener, v any) { tlsOf(l).Ciphers = asList(v) }),
		ld("psk_ciphers", tlsK, sp("", TypeList, "", "TLS-PSK cipher suites by OpenSSL name (keys: the emqx_psk_file plugin)"), func(l *Listener, v any) { tlsOf(l).PSKCiphers = asList(v) }),
		ld("secure_renegotiate", tlsK, sp("", TypeBool, "off", "TLS renegotiation").ne(OwnerGoTLS), func(l *Listener, v any) { tlsOf(l).SecureRenegotiate = asBool(v) }),
		ld("reuse_sessions", tlsK, sp("", TypeBool, "on", "TLS session resumption"), func(l *Listener, v any) { tlsOf(l).ReuseSessions = asBool(v) }),
		ld("crypto_backend", tlsK, sp("", TypeEnum, "auto", "what signs with an RSA key: OpenSSL's libcrypto.so.3 or Go (beyond EMQX)").enum("auto", "openssl", "go"), func(l *Listener, v any) { tlsOf(l).CryptoBackend = asStr(v) }),
		ld("honor_cipher_order", tlsK, sp("", TypeBool, "on", "prefer the server's cipher order").ne(OwnerGoTLS), func(l *Listener, v any) { tlsOf(l).HonorCipherOrder = asBool(v) }),
		ld("peer_cert_as_username", all, sp("", TypeEnum, "", "use the client certificate's CN, DN or whole certificate (PEM) as username").enum("cn", "dn", "crt"), func(l *Listener, v any) { l.PeerCertAsUsername = asStr(v) }).
			noEffectOn(OwnerNoCert, KindTCP, KindWS),
		ld("peer_cert_as_clientid", all, sp("", TypeEnum, "", "use the client certificate's CN, DN or whole certificate (PEM) as client id (EMQX 4.x)").enum("cn", "dn", "crt"), func(l *Listener, v any) { l.PeerCertAsClientID = asStr(v) }).
			noEffectOn(OwnerNoCert, KindTCP, KindWS),
		ld("backlog", all, sp("", TypeInt, "1024", "TCP accept backlog").rng(0, 1<<31).ne(OwnerGnet), func(l *Listener, v any) { l.Backlog = asInt(v) }),
		ld("send_timeout", all, sp("", TypeDuration, "15s", "TCP send timeout").unit(sec), func(l *Listener, v any) { l.SendTimeout = asDur(v) }),
		ld("send_timeout_close", all, sp("", TypeBool, "on", "close the connection on send timeout"), func(l *Listener, v any) { l.SendTimeoutClose = asBool(v) }),
		ld("recbuf", all, sp("", TypeBytes, "", "kernel receive buffer; unset for the OS default"), func(l *Listener, v any) { l.RecBuf = asI64(v) }),
		ld("sndbuf", all, sp("", TypeBytes, "", "kernel send buffer; unset for the OS default"), func(l *Listener, v any) { l.SndBuf = asI64(v) }),
		ld("buffer", all, sp("", TypeBytes, "", "Erlang user-level buffer").ne(OwnerVM), func(l *Listener, v any) { l.Buffer = asI64(v) }),
		ld("tune_buffer", all, sp("", TypeBool, "off", "Erlang buffer tuning").ne(OwnerVM), func(l *Listener, v any) { l.TuneBuffer = asBool(v) }),
		ld("high_watermark", all, sp("", TypeBytes, "1MB", "pending outbound bytes at which a connection counts as busy"), func(l *Listener, v any) { l.HighWatermark = asI64(v) }),
		ld("nodelay", all, sp("", TypeBool, "true", "TCP_NODELAY"), func(l *Listener, v any) { l.NoDelay = asBool(v) }),
		ld("reuseaddr", all, sp("", TypeBool, "true", "SO_REUSEADDR").ne(OwnerGnet), func(l *Listener, v any) { l.ReuseAddr = asBool(v) }),
		ld("compress", wsK, sp("", TypeBool, "false", "permessage-deflate compression"), func(l *Listener, v any) { wsOf(l).Compress = asBool(v) }),
		ld("deflate_opts.level", wsK, sp("", TypeEnum, "", "compression level").enum("none", "default", "best_compression", "best_speed"), func(l *Listener, v any) { wsOf(l).DeflateLevel = asStr(v) }),
		ld("deflate_opts.mem_level", wsK, sp("", TypeInt, "", "zlib memory level").rng(1, 9).ne(OwnerDeflate), nil),
		ld("deflate_opts.strategy", wsK, sp("", TypeEnum, "", "zlib strategy").enum("default", "filtered", "huffman_only", "rle").ne(OwnerDeflate), nil),
		ld("deflate_opts.server_context_takeover", wsK, sp("", TypeEnum, "", "deflate context takeover").enum("takeover", "no_takeover").ne(OwnerDeflate), nil),
		ld("deflate_opts.client_context_takeover", wsK, sp("", TypeEnum, "", "deflate context takeover").enum("takeover", "no_takeover"), func(l *Listener, v any) { wsOf(l).ClientContextTakeover = asStr(v) }),
		ld("deflate_opts.server_max_window_bits", wsK, sp("", TypeInt, "", "deflate window bits").rng(8, 15).ne(OwnerDeflate), nil),
		ld("deflate_opts.client_max_window_bits", wsK, sp("", TypeInt, "", "deflate window bits").rng(8, 15), func(l *Listener, v any) { wsOf(l).ClientMaxWindowBits = asInt(v) }),
		ld("idle_timeout", wsK, sp("", TypeDuration, "", "WebSocket idle timeout; unset for the zone's idle_timeout").unit(sec), func(l *Listener, v any) { wsOf(l).IdleTimeout = asDur(v) }),
		ld("max_frame_size", wsK, sp("", TypeInt, "0", "largest WebSocket frame; 0 for no limit").rng(0, 1<<31), func(l *Listener, v any) { wsOf(l).MaxFrameSize = asInt(v) }),
		ld("mqtt_piggyback", wsK, sp("", TypeEnum, "multiple", "MQTT packets per WebSocket message").enum("single", "multiple"), func(l *Listener, v any) { wsOf(l).Piggyback = asStr(v) }),
		ld("check_origin_enable", wsK, sp("", TypeBool, "false", "check the Origin header against check_origins"), func(l *Listener, v any) { wsOf(l).CheckOriginEnable = asBool(v) }),
		ld("allow_origin_absence", wsK, sp("", TypeBool, "true", "accept requests without an Origin header when checking origins"), func(l *Listener, v any) { wsOf(l).AllowOriginAbsence = asBool(v) }),
		ld("check_origins", wsK, sp("", TypeList, "", "allowed Origin values"), func(l *Listener, v any) { wsOf(l).CheckOrigins = asList(v) }),
	}
	return defs
}

// listenerAccessSpec is the spec of listener.<kind>.$name.access.$n.
func listenerAccessSpec(k Kind) *Spec {
	return sp("listener."+string(k)+".$name.access.$n", TypeAccess, "", "access rule, e.g. allow 192.168.0.0/24; rules apply in order of $n")
}
