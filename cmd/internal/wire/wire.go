package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/rewrite"
	"github.com/emqgo/emqgo/engine/transport"
)

// FromConfig resolves a loaded emqx.conf into the engine's Config: zones, listeners, the ACL
// file (see LoadACL), the broker and retainer settings, and the subscription and rewrite
// modules. Listeners not served are returned in skipped by key (e.g. "listener.ws.external"),
// so that the caller can say so: those whose transport is not built yet, and TLS listeners
// whose demo certificates are missing (MissingDemoCerts says why).
func FromConfig(c *config.Config) (cfg *engine.Config, skipped []string, err error) {
	cfg = &engine.Config{
		NodeName:            c.Node.Name,
		AllowAnonymous:      c.MQTT.AllowAnonymous,
		ACLNoMatch:          acl.Allow,
		SharedStrategy:      c.Broker.SharedSubscriptionStrategy,
		RetainerMaxMessages: c.Retainer.MaxRetainedMessages,
		RetainerMaxPayload:  int(c.Retainer.MaxPayloadSize),
		RetainerExpiry:      int64(c.Retainer.ExpiryInterval / time.Second),
	}
	fp := c.ACL.FlappingPolicy
	cfg.Flapping = engine.FlappingPolicy{Threshold: fp.Threshold, Window: fp.Window, Ban: fp.Ban}
	if c.ACL.NoMatch == "deny" {
		cfg.ACLNoMatch = acl.Deny
	}
	if c.ACL.EnableCache && c.ACL.CacheTTL > 0 {
		cfg.ACLCacheSize, cfg.ACLCacheTTL = c.ACL.CacheMaxSize, c.ACL.CacheTTL
	}
	switch cfg.SharedStrategy {
	case "hash_clientid":
		cfg.SharedStrategy = "hash"
	case "hash_topic", "random", "round_robin", "sticky", "hash":
	default:
		return nil, nil, fmt.Errorf("broker.shared_subscription_strategy: %q is not supported", cfg.SharedStrategy)
	}
	if err := modulesFromConfig(cfg, &c.Modules); err != nil {
		return nil, nil, err
	}
	rules, err := LoadACL(c)
	if err != nil {
		return nil, nil, err
	}
	cfg.ACL = rules
	zones := map[string]*engine.Zone{}
	zoneFor := func(l *config.Listener) *engine.Zone {
		zc := c.ZoneOf(l)
		if z, ok := zones[zc.Name]; ok {
			return z
		}
		z := zoneFromConfig(zc)
		zones[zc.Name] = z
		return z
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]

		var tl *engine.TLSListener
		switch {
		case isTLS(l.Kind) && MissingDemoCerts(c, l) != "":
			skipped = append(skipped, "listener."+string(l.Kind)+"."+l.Name)
			continue
		case isTLS(l.Kind) && (l.TLS.CertFile != "" || len(l.TLS.PSKCiphers) > 0): // certificate and/or TLS-PSK
			if tl, err = tlsListener(l); err != nil {
				return nil, nil, err
			}
		case l.Kind != config.KindTCP && l.Kind != config.KindWS: // config.Load refuses TLS without certfile or psk_ciphers
			skipped = append(skipped, "listener."+string(l.Kind)+"."+l.Name)
			continue
		}
		z := zoneFor(l)
		if l.MaxPacketSize > 0 {
			cp := *z
			cp.MaxPacketSize = uint32(l.MaxPacketSize)
			z = &cp
		}
		if l.SendTimeoutClose && l.SendTimeout != z.SendTimeout || !l.SendTimeoutClose && z.SendTimeout != 0 {
			cp := *z
			cp.SendTimeout = 0
			if l.SendTimeoutClose {
				cp.SendTimeout = l.SendTimeout
			}
			z = &cp
		}
		if l.HighWatermark > 0 {
			cp := *z
			cp.HighWater = int(l.HighWatermark)
			z = &cp
		}
		if l.WS != nil && l.WS.IdleTimeout > 0 {
			// The WebSocket's idle_timeout bounds the upgrade and the CONNECT, as the zone's
			// idle_timeout does on TCP.
			cp := *z
			cp.IdleTimeout = l.WS.IdleTimeout
			z = &cp
		}
		cfg.Listeners = append(cfg.Listeners, engine.Listener{
			Kind:           string(l.Kind),
			Name:           l.Name,
			Addr:           l.Bind,
			Zone:           z,
			Access:         accessRules(l.Access),
			MaxConnections: l.MaxConnections,
			MaxConnRate:    l.MaxConnRate,
			Nagle:          !l.NoDelay,
			RecBuf:         int(l.RecBuf),
			SndBuf:         int(l.SndBuf),
			RateLimit:      rateOf(l.RateLimit),

			ProxyProtocol:        l.ProxyProtocol,
			ProxyProtocolTimeout: l.ProxyProtocolTimeout,
			TLS:                  tl,
			WebSocket:            webSocketOptions(l, int(z.MaxPacketSize)),
		})
	}
	if len(cfg.Listeners) == 0 {
		return nil, skipped, errors.New("no MQTT/TCP listener is configured (listener.tcp.<name>)")
	}
	return cfg, skipped, nil
}

// LoadACL reads the rules of acl_file (FromConfig, and emqx_ctl acl reload). When that file
// does not exist and the operator did not name it (the acl_file of the embedded default
// configuration), the embedded default etc/acl.conf applies; a missing file that the
// configuration names explicitly is an error naming the key, where it was set, and the file.
// Parse errors name the acl file and line. Safe for concurrent use.
func LoadACL(c *config.Config) (*acl.Rules, error) {
	if c.ACL.File == "" {
		return nil, nil
	}
	rules, err := acl.Load(c.ACL.File)
	if err == nil {
		return rules, nil
	}
	o, set := c.Origin("acl_file")
	switch {
	case errors.Is(err, fs.ErrNotExist) && !(set && o.Explicit()):
		return acl.Default(), nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: acl_file: file %s does not exist", o, c.ACL.File)
	case set:
		return nil, fmt.Errorf("%s: acl_file: %w", o, err)
	}
	return nil, fmt.Errorf("acl_file: %w", err)
}

func zoneFromConfig(zc *config.Zone) *engine.Zone {
	z := engine.DefaultZone()
	z.Name = zc.Name
	if z.Name == "" {
		z.Name = "default"
	}
	z.IdleTimeout = zc.IdleTimeout
	z.EnableACL = zc.EnableACL
	anonymous := zc.AllowAnonymous
	z.AllowAnonymous = &anonymous
	z.BypassAuthPlugins = zc.BypassAuthPlugins
	z.StrictMode = zc.StrictMode
	z.EnableBan = zc.EnableBan
	z.EnableFlappingDetect = zc.EnableFlappingDetect
	z.Flapping = zoneFlapping(zc)
	z.ACLDenyAction = zc.ACLDenyAction
	z.MaxPacketSize = uint32(min(zc.MaxPacketSize, 268435455+5))
	z.MaxClientIDLen = zc.MaxClientIDLen
	z.MaxTopicLevels = zc.MaxTopicLevels
	z.MaxQoSAllowed = uint8(min(max(zc.MaxQoSAllowed, 0), 2))
	z.MaxTopicAlias = uint16(min(max(zc.MaxTopicAlias, 0), 65535))
	z.MaxOutboundTopicAlias = uint16(min(max(zc.MaxOutboundTopicAlias, 0), 65535))
	z.RetainAvailable = zc.RetainAvailable
	z.WildcardSubscription = zc.WildcardSubscription
	z.SharedSubscription = zc.SharedSubscription
	z.ServerKeepalive = uint16(min(zc.ServerKeepalive/time.Second, 65535))
	z.KeepaliveBackoff = zc.KeepaliveBackoff
	z.MaxSubscriptions = zc.MaxSubscriptions
	z.UpgradeQoS = zc.UpgradeQoS
	z.MaxInflight = zc.MaxInflight
	z.RetryInterval = zc.RetryInterval
	z.MaxAwaitingRel = zc.MaxAwaitingRel
	z.AwaitRelTimeout = zc.AwaitRelTimeout
	z.SessionExpiryInterval = zc.SessionExpiryInterval
	z.MaxMqueueLen = zc.MaxMqueueLen
	z.MqueueStoreQoS0 = zc.MqueueStoreQoS0
	z.UseUsernameAsClientID = zc.UseUsernameAsClientID
	z.IgnoreLoopDeliver = zc.IgnoreLoopDeliver
	z.Mountpoint = zc.Mountpoint
	z.ResponseInformation = zc.ResponseInformation
	z.LingerTimeout = zc.LingerTimeout
	// force_shutdown_policy: queued messages and output backlog (engine/forceshutdown.go).
	z.ForceShutdownQueue = int(max(min(zc.ForceShutdownPolicy.Count, 1<<30), 0))
	z.CloseWater = int(max(min(zc.ForceShutdownPolicy.Bytes, 1<<40), 0))
	z.LingerBytes = int(zc.LingerBytes)
	z.PublishLimit = rateOf(zc.PublishLimit)
	z.ConnMessagesIn = rateOf(zc.ConnMessagesIn)
	z.ConnBytesIn = rateOf(zc.ConnBytesIn)
	return z
}

// webSocketOptions resolves the WebSocket keys of a ws or wss listener (nil for other kinds);
// maxPacket (the zone's max_packet_size) bounds an inflated permessage-deflate message.
func webSocketOptions(l *config.Listener, maxPacket int) *transport.WebSocketOptions {
	if (l.Kind != config.KindWS && l.Kind != config.KindWSS) || l.WS == nil {
		return nil
	}
	o := &transport.WebSocketOptions{
		Path:               l.WS.Path,
		VerifyProtocol:     l.WS.VerifyProtocolHeader,
		ProxyAddressHeader: l.WS.ProxyAddressHeader,
		ProxyPortHeader:    l.WS.ProxyPortHeader,
		MaxFrameSize:       l.WS.MaxFrameSize,
		CheckOrigin:        l.WS.CheckOriginEnable,
		AllowOriginAbsence: l.WS.AllowOriginAbsence,
		Origins:            l.WS.CheckOrigins,
		MaxMessageSize:     maxPacket,
		SinglePacket:       l.WS.Piggyback == "single",
	}
	if l.WS.Compress {
		o.Deflate = &transport.DeflateOptions{
			Level:                   transport.DeflateLevel(l.WS.DeflateLevel),
			ClientNoContextTakeover: l.WS.ClientContextTakeover == "no_takeover",
			ClientMaxWindowBits:     l.WS.ClientMaxWindowBits,
		}
	}
	o.Prepare()
	return o
}

// rateOf converts a configured rate limit (the zero Rate: none).
// zoneFlapping is EMQX 3.2's per-zone flapping keys; zero fields leave flapping_detect_policy's.
func zoneFlapping(zc *config.Zone) engine.FlappingPolicy {
	p := engine.FlappingPolicy{Ban: zc.FlappingBanTime}
	if zc.FlappingThreshold.Limit > 0 && zc.FlappingThreshold.Per > 0 {
		p.Threshold, p.Window = int(zc.FlappingThreshold.Limit), zc.FlappingThreshold.Per
	}
	return p
}

func rateOf(r config.Rate) engine.Rate {
	return engine.Rate{Limit: r.Limit, Per: r.Per, Burst: r.Burst}
}

func accessRules(rs []config.AccessRule) []engine.AccessRule {
	out := make([]engine.AccessRule, len(rs))
	for i, r := range rs {
		out[i] = engine.AccessRule{Allow: r.Allow, All: r.All, Prefix: r.Prefix}
	}
	return out
}

// modulesFromConfig resolves module.subscription and module.rewrite (see modules.go). The
// loader has checked the rules already; an error here names the rule anyway.
func modulesFromConfig(cfg *engine.Config, m *config.Modules) error {
	if m.Subscription {
		for _, s := range m.Subscriptions {
			cfg.AutoSubscriptions = append(cfg.AutoSubscriptions, engine.AutoSubscription{
				Topic:             s.Topic,
				QoS:               uint8(min(max(s.QoS, 0), 2)),
				NoLocal:           s.NL == 1,
				RetainAsPublished: s.RAP == 1,
				RetainHandling:    uint8(min(max(s.RH, 0), 2)),
			})
		}
	}
	if !m.Rewrite {
		return nil
	}
	// EMQX 4's order: module.rewrite.rule.N first, then pub.rule.N (or sub.rule.N).
	var pub, sub []rewrite.Rule
	for _, r := range m.RewriteRules {
		rr := rewrite.Rule{Filter: r.Filter, Regexp: r.Regexp, Dest: r.Dest}
		if r.Action != "sub" {
			pub = append(pub, rr)
		}
		if r.Action != "pub" {
			sub = append(sub, rr)
		}
	}
	var err error
	if cfg.RewritePublish, err = rewrite.Compile(pub); err != nil {
		return fmt.Errorf("module.rewrite: %w", err)
	}
	if cfg.RewriteSubscribe, err = rewrite.Compile(sub); err != nil {
		return fmt.Errorf("module.rewrite: %w", err)
	}
	return nil
}
