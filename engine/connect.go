package engine

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/sessions"
)

// Errors for rules the engine (not the codec) enforces; each carries its reason code.
var (
	errFirstNotConnect  = &codec.Error{Code: codec.ProtocolError, Reason: "first packet is not CONNECT [MQTT-3.1.0-1]"}
	errSecondConnect    = &codec.Error{Code: codec.ProtocolError, Reason: "second CONNECT on a connection [MQTT-3.1.0-2]"}
	errServerPacket     = &codec.Error{Code: codec.ProtocolError, Reason: "packet type only a server may send"}
	errAuthUnsupported  = &codec.Error{Code: codec.ProtocolError, Reason: "AUTH packet without enhanced authentication [MQTT-4.12.0-1]"}
	errTopicAlias       = &codec.Error{Code: codec.TopicAliasInvalid, Reason: "topic alias 0 or above the topic alias maximum [MQTT-3.3.2-9]"}
	errTopicAliasUnset  = &codec.Error{Code: codec.ProtocolError, Reason: "topic alias not established on this connection [MQTT-3.3.2.3.4]"}
	errQoSNotSupported  = &codec.Error{Code: codec.QoSNotSupported, Reason: "PUBLISH QoS above max_qos_allowed [MQTT-3.2.2-11]"}
	errRetainNotAllowed = &codec.Error{Code: codec.RetainNotSupported, Reason: "retained PUBLISH while retain_available is false [MQTT-3.2.2-14]"}
	errTopicLevels      = &codec.Error{Code: codec.TopicNameInvalid, Reason: "topic has more levels than max_topic_levels"}
	errReceiveMax       = &codec.Error{Code: codec.ReceiveMaximumExceeded, Reason: "more QoS 2 messages awaiting PUBREL than max_awaiting_rel [MQTT-3.3.4-9]"}
	errStoreDown        = errors.New("the durable store is failed")
	errExpiryOnClose    = &codec.Error{Code: codec.ProtocolError, Reason: "DISCONNECT sets a session expiry on a session that had none [MQTT-3.14.2-2]"}
)

var clientIDSeq atomic.Uint64

// handleConnect authenticates the client, attaches its session (taking it over from an
// older connection if any) and answers CONNACK.
func (c *conn) handleConnect(pkt []byte) error {
	l := c.loop
	n := l.n
	p := &l.connect
	l.stats.Connect++
	if err := p.Decode(pkt); err != nil {
		c.version = p.Version
		code := codec.CodeOf(err)
		if p.Version == codec.V5 || code == codec.UnsupportedProtocolVersion || code == codec.ClientIdentifierNotValid {
			// MQTT 3.1.1 answers a bad level with return code 1 and an empty client id with
			// 2 [MQTT-3.1.2-2] [MQTT-3.1.3-9]; MQTT 5 may answer any failure [MQTT-3.2.2-7].
			c.refuse(code, err.Error())
			return nil
		}
		return err
	}
	c.version = p.Version
	c.keepAlive = p.KeepAlive
	c.set(flagProblemInfo)
	if p.Version == codec.V5 {
		pr := &p.Props
		if pr.Has(codec.PropRequestProblemInfo) && pr.RequestProblemInfo == 0 {
			c.unset(flagProblemInfo)
		}
		if pr.Has(codec.PropRequestResponseInfo) && pr.RequestResponseInfo == 1 {
			c.set(flagResponseInfo)
		}
		if pr.Has(codec.PropMaximumPacketSize) {
			c.clientMaxPacket = pr.MaximumPacketSize
		}
		c.clientRecvMax = 65535
		if pr.Has(codec.PropReceiveMaximum) {
			c.clientRecvMax = pr.ReceiveMaximum
		}
		c.setupOutAliases(pr)
		if pr.Has(codec.PropAuthMethod) {
			// No enhanced authentication method is configured [MQTT-4.12.0-1].
			c.refuse(codec.BadAuthenticationMethod, "enhanced authentication method "+strconv.Quote(string(pr.AuthMethod))+" is not supported")
			return nil
		}
	}
	z := c.lis.Zone
	if z.StrictMode {
		if code, why := strictConnect(p); code != 0 {
			if code == codec.TopicNameInvalid && p.Version != codec.V5 {
				// No MQTT 3.x CONNACK return code is about the will: close without one.
				return &codec.Error{Code: code, Reason: why}
			}
			c.refuse(code, why)
			return nil
		}
	}
	if c.lis.TLS != nil {
		c.peerCertIdentity(&p.Username, &p.ClientID, &p.UsernameFlag) // peer_cert_as_username/clientid
	}
	c.username = string(p.Username)
	clientID := string(p.ClientID)
	if z.UseUsernameAsClientID && p.UsernameFlag && len(p.Username) > 0 {
		clientID = c.username
	}
	assigned := false
	if clientID == "" {
		clientID = n.newClientID()
		assigned = true
	}
	if !assigned && z.MaxClientIDLen > 0 && len(clientID) > z.MaxClientIDLen {
		c.refuse(codec.ClientIdentifierNotValid, "client identifier longer than max_clientid_len ("+strconv.Itoa(z.MaxClientIDLen)+")")
		return nil
	}
	c.clientID = clientID
	if (z.EnableBan || z.EnableFlappingDetect) && !c.admitBanned() {
		return nil
	}

	// The will is built now (its bytes alias the read buffer) and kept on the connection.
	if p.WillFlag {
		if p.WillQoS > z.MaxQoSAllowed {
			c.refuse(codec.QoSNotSupported, "will QoS above max_qos_allowed [MQTT-3.2.2-12]")
			return nil
		}
		if p.WillRetain && !z.RetainAvailable {
			c.refuse(codec.RetainNotSupported, "will retain while retain_available is false [MQTT-3.2.2-13]")
			return nil
		}
		if p.Version == codec.V5 && p.WillProps.Has(codec.PropPayloadFormat) && p.WillProps.PayloadFormat == 1 && codec.ValidUTF8String(p.WillPayload) != nil {
			c.refuse(codec.PayloadFormatInvalid, "will payload is not UTF-8 although its payload format indicator says so")
			return nil
		}
		topic := p.WillTopic
		if rw := n.cfg.RewritePublish; rw != nil {
			var err error
			if topic, err = rewriteTopic(rw, topic); err != nil {
				if p.Version == codec.V5 {
					c.refuse(codec.TopicNameInvalid, err.Error())
					return nil
				}
				return err
			}
		}
		topic = n.mount(z, c, topic)
		if tooDeep(topic, z.topicLevelLimit()) {
			// A will that could never be delivered is refused, not accepted and dropped.
			if p.Version == codec.V5 {
				c.refuse(codec.TopicNameInvalid, "will "+z.topicLevelsError().Reason)
				return nil
			}
			return z.topicLevelsError()
		}
		wp := &l.publish
		wp.Reset()
		wp.QoS, wp.Retain, wp.Topic, wp.Payload = p.WillQoS, p.WillRetain, topic, p.WillPayload
		c.will = &connWill{}
		if p.Version == codec.V5 {
			wp.Props = p.WillProps
			if p.WillProps.Has(codec.PropWillDelay) {
				c.will.delay = p.WillProps.WillDelay
			}
		}
		c.will.msg = sessions.NewMessage(wp, topic, clientID, l.now)
		wp.Props = codec.Properties{} // the will's property slices belong to l.connect
	}

	expiry := uint32(0)
	if p.Version == codec.V5 {
		if p.Props.Has(codec.PropSessionExpiry) {
			expiry = p.Props.SessionExpiry
		}
	} else if !p.CleanStart {
		expiry = uint32(z.SessionExpiryInterval.Seconds())
		if expiry == 0 {
			expiry = sessions.NeverExpire
		}
	}
	req := connectRequest{clientID: clientID, assigned: assigned, clean: p.CleanStart, expiry: expiry}
	// The will's access check needs the access-control chain when one is installed.
	willTopic := ""
	if c.will != nil && z.EnableACL && len(n.authzChain()) > 0 {
		willTopic = string(c.will.msg.Topic)
	}
	// bypass_auth_plugins: the zone's clients are admitted without the authentication chain
	// (as EMQX); the access-control chain still checks the will.
	bypass := z.BypassAuthPlugins
	// A session on another node of the cluster is fetched on the side pool (peer_sessions.go).
	fetch := n.locator != nil && !assigned && n.locator.Elsewhere(clientID)
	if (bypass || len(n.authChain()) == 0) && willTopic == "" && !fetch {
		req.result = AuthResult{Decision: AuthAllow}
		if !bypass {
			req.result = n.anonymous(z, p.UsernameFlag)
		}
		c.completeConnect(&req)
		return nil
	}
	// The authentication and access-control chains may block (HTTP, databases, LDAP): park
	// the CONNECT and run them on the side pool. Input stays buffered until the answer comes
	// back to this loop.
	info := c.clientInfo()
	info.Password, info.HasPass = append([]byte(nil), p.Password...), p.PasswordFlag
	c.state = stateAuth
	hasUsername := p.UsernameFlag
	if !bypass && willTopic == "" && !fetch && n.connectAsync(l, c, z, info, hasUsername, req) {
		return nil // the chain's first link answers through a callback (authasync.go)
	}
	if err := n.pool.Submit(func() {
		req.result = AuthResult{Decision: AuthAllow}
		if !bypass {
			began := wallNanos()
			req.result = n.runAuth(z, info, hasUsername)
			req.authTook = max(wallNanos()-began, 1) // 0: no chain ran
		}
		if willTopic != "" && req.result.Decision == AuthAllow && !req.result.Superuser {
			ctx, cancel := context.WithTimeout(context.Background(), n.aclTimeout())
			req.willChecked, req.willAllowed = true, n.runAuthz(ctx, info, acl.Publish, willTopic)
			cancel()
		}
		if fetch && req.result.Decision == AuthAllow {
			req.moved = n.fetchSession(clientID, req.clean)
		}
		if !l.pushAnswer(authAnswer{c: c, req: req}) { // completed on the loop, authanswers.go
			n.log.Debug("authentication answer dropped: engine stopping", "client", clientID)
		}
	}); err != nil {
		c.state = stateNew
		l.stats.AuthOverload++
		c.refuse(codec.ServerBusy, "authentication backlog full")
	}
	return nil
}

// strictConnect applies strict_mode to the strings of a decoded CONNECT that name the client
// and its will (codec.StrictUTF8 on top of the codec's own checks). It returns 0, or the
// reason code to refuse with and why: ClientIdentifierNotValid (3.x return code 2) for the
// client identifier, BadUserNameOrPassword (3.x return code 4) for the user name,
// TopicNameInvalid for the will topic. EMQX (whose frame parser checks these strings, and
// also the password and string properties) closes the connection without a CONNACK; a
// reason code tells the client which field was refused. No side effect, no allocation
// unless refused.
func strictConnect(p *codec.Connect) (codec.ReasonCode, string) {
	if err := codec.StrictUTF8(p.ClientID); err != nil {
		return codec.ClientIdentifierNotValid, "client identifier: " + err.Error()
	}
	if p.UsernameFlag {
		if err := codec.StrictUTF8(p.Username); err != nil {
			return codec.BadUserNameOrPassword, "user name: " + err.Error()
		}
	}
	if p.WillFlag {
		if err := codec.StrictUTF8(p.WillTopic); err != nil {
			return codec.TopicNameInvalid, "will topic: " + err.Error()
		}
	}
	return 0, ""
}

// connectRequest carries a CONNECT from its decoding to its completion, which may happen
// later on the loop when authentication had to wait. Everything in it is owned.
type connectRequest struct {
	clientID string
	assigned bool
	clean    bool
	expiry   uint32
	result   AuthResult
	authTook int64 // nanoseconds the authentication chain took, 0 when it did not run

	willChecked bool // the access-control chain decided about the will's topic: willAllowed
	willAllowed bool

	moved *sessions.Transfer // the session another node handed over, nil when none
}

// completeConnect applies the authentication result, attaches the session and answers
// CONNACK. Runs on the connection's loop.
func (c *conn) completeConnect(req *connectRequest) {
	l := c.loop
	n := l.n
	z := c.lis.Zone
	if req.result.Decision != AuthAllow {
		code := req.result.Code
		if code == 0 {
			code = codec.NotAuthorized
		}
		l.stats.AuthFailures++
		c.refuse(code, req.result.Reason)
		return
	}
	if req.result.Superuser {
		c.set(flagSuperuser)
	}
	clientID := req.clientID
	if c.will != nil && !c.willAllowed(req) {
		// A will may only go where its client may publish (checked at CONNECT).
		l.stats.AclDenied++
		n.log.Warn("will message dropped: publish to its topic denied by ACL", "client", clientID, "topic", string(c.will.msg.Topic))
		c.will = nil
	}
	if assigned := ""; c.version == codec.V5 {
		if req.assigned {
			assigned = clientID
		}
		if size := c.minConnackSize(assigned); !c.fits(size) {
			// Not even the smallest CONNACK fits: close without one, before the session is
			// touched [MQTT-3.1.2-24].
			l.stats.ConnRefused++
			c.closeWith(0, "CONNACK of "+strconv.Itoa(size)+" bytes exceeds the client's Maximum Packet Size ("+strconv.Itoa(int(c.clientMaxPacket))+") [MQTT-3.1.2-24]")
			return
		}
	}
	if req.moved != nil {
		n.adoptMoved(c, req.moved)
	}
	present := n.attach(c, clientID, req.clean, req.expiry)
	c.state = stateConnected
	l.stats.ConnackTime.observe(l.now - c.lastRecv) // lastRecv: the open (or admission) time until here
	c.lastRecv = l.now                              // keep alive counts from the CONNACK
	if present {
		c.set(flagSessionPresent)
	}
	assigned := req.assigned

	// CONNACK.
	ack := codec.Connack{SessionPresent: present, Code: codec.Success}
	if c.version == codec.V5 {
		pr := &ack.Props
		if assigned {
			pr.SetAssignedClientID([]byte(clientID))
		}
		// QoS 1 is acknowledged at once, so the only inbound messages a client can have
		// unacknowledged are QoS 2 ones awaiting PUBREL: max_awaiting_rel is the Receive
		// Maximum, and exceeding it is the client's protocol error [MQTT-3.3.4-9].
		if z.MaxAwaitingRel > 0 && z.MaxAwaitingRel < 65535 {
			pr.SetReceiveMaximum(uint16(z.MaxAwaitingRel))
		}
		if z.MaxTopicAlias > 0 {
			pr.SetTopicAliasMaximum(z.MaxTopicAlias)
		}
		if z.MaxQoSAllowed < 2 {
			pr.SetMaximumQoS(z.MaxQoSAllowed)
		}
		if !z.RetainAvailable {
			pr.SetRetainAvailable(0)
		}
		if z.MaxPacketSize > 0 {
			pr.SetMaximumPacketSize(z.MaxPacketSize)
		}
		if !z.WildcardSubscription {
			pr.SetWildcardSubAvailable(0)
		}
		if !z.SharedSubscription {
			pr.SetSharedSubAvailable(0)
		}
		if z.ServerKeepalive > 0 {
			pr.SetServerKeepAlive(z.ServerKeepalive)
			c.keepAlive = z.ServerKeepalive
		}
		// Only to a client that asked (Request Response Information = 1) [MQTT-3.1.2-28].
		if c.has(flagResponseInfo) && z.ResponseInformation != "" {
			pr.SetResponseInfo([]byte(z.ResponseInformation))
		}
	}
	// Optional properties go while it exceeds the client's maximum; the smallest fits (above).
	b, _ := c.appendConnackFit(c.buf(), &ack, c.version)
	c.write(b)
	l.stats.Connack++
	if n.log.Enabled(context.Background(), slog.LevelInfo) { // no argument garbage when off
		n.log.Info("client connected", "client", clientID, "username", c.username, "peer", c.peer.String(),
			"proto", c.version.String(), "keepalive", c.keepAlive, "clean_start", req.clean, "session_present", present)
	}
	if req.clean {
		c.set(flagCleanStart)
	}
	c.connectedAt = n.connectClock()
	if h := l.hooks; h != nil {
		c.connectedHooks(h, present)
	}

	// Resume the session: retransmit what is in flight, then send what is queued.
	s := c.sess
	s.Lock()
	if s.Owner == c {
		c.resume()
	}
	s.Unlock()
	if len(n.cfg.AutoSubscriptions) > 0 && c.state == stateConnected {
		c.autoSubscribe()
	}
}

// connectedHooks runs the session and connection hooks of an accepted CONNECT.
func (c *conn) connectedHooks(h *hookSet, present bool) {
	if present {
		for _, f := range h.resumed {
			f(c.clientID)
		}
	} else {
		for _, f := range h.created {
			f(c.clientID)
		}
	}
	if len(h.connected) > 0 {
		ev := c.clientEvent()
		for _, f := range h.connected {
			f(ev)
		}
	}
}

// willAllowed reports whether the client may publish its will (checked at CONNECT: a will may
// only go where its client may publish).
func (c *conn) willAllowed(req *connectRequest) bool {
	if req.willChecked && !c.has(flagSuperuser) {
		return req.willAllowed
	}
	// aclPending only if a chain was installed while this CONNECT was being authenticated:
	// the will is dropped rather than let through unchecked.
	return c.loop.n.authorize(c, acl.Publish, c.will.msg.Topic) == aclAllow
}

// refuse answers CONNECT with a failure and closes the connection.
func (c *conn) refuse(code codec.ReasonCode, why string) {
	ack := codec.Connack{Code: code}
	v := c.version
	if !v.Valid() {
		v = codec.V311
	}
	if v == codec.V5 && c.has(flagProblemInfo) && why != "" {
		ack.Props.SetReasonString([]byte(why))
	}
	// The reason string goes when it would exceed the client's maximum [MQTT-3.2.2-19];
	// a CONNACK that still does not fit is not sent [MQTT-3.1.2-24].
	if b, ok := c.appendConnackFit(c.buf(), &ack, v); ok {
		c.write(b)
		c.loop.stats.Connack++
	}
	c.loop.stats.ConnRefused++
	c.closeLingering(0, "CONNECT refused: "+code.String()+": "+why)
}

func (n *Node) newClientID() string {
	return "emqgo-" + strconv.FormatUint(uint64(n.started.UnixNano())&0xFFFFFFFF, 36) + "-" + strconv.FormatUint(clientIDSeq.Add(1), 36)
}

// mount prefixes a topic with the zone's mountpoint, with %c and %u replaced by the client
// identifier and user name. It returns topic itself when there is no mountpoint.
func (n *Node) mount(z *Zone, c *conn, topic []byte) []byte {
	if z.Mountpoint == "" {
		return topic
	}
	mp := z.Mountpoint
	if strings.Contains(mp, "%") {
		mp = strings.ReplaceAll(mp, "%c", c.clientID)
		mp = strings.ReplaceAll(mp, "%u", c.username)
	}
	out := make([]byte, 0, len(mp)+len(topic))
	return append(append(out, mp...), topic...)
}

// attach binds the connection to the session of clientID, creating it or taking it over,
// and reports whether an existing session was resumed (session present).
func (n *Node) attach(c *conn, clientID string, clean bool, expiry uint32) (present bool) {
	now := c.loop.now
	var s *sessions.Session
	n.reg.Update(clientID, func(old *sessions.Session) *sessions.Session {
		if old != nil {
			old.Lock()
			if oc, _ := old.Owner.(*conn); oc != nil {
				old.Owner = nil
				old.Home.Store(-1)
				n.kick(c.loop, oc, codec.SessionTakenOver, "session taken over by a new connection")
			}
			old.DelayedWill = nil // the client is back before its will was due [MQTT-3.1.3-9]
			// A session with expiry interval 0 (3.x clean session, MQTT 5 expiry 0 at CONNECT
			// or set by DISCONNECT) lasts as long as its connection: a new connection never
			// resumes it, even while the old close is still under way [MQTT-3.1.2-6]
			// [MQTT-3.2.2-3]. Ending it here makes the old connection's will go out at once.
			if reason := endReason(old, clean, now); reason != "" {
				n.discardLocked(old, reason)
				old.Unlock()
				old = nil
			} else {
				old.Unlock()
			}
		}
		if old == nil {
			s = sessions.New(clientID, now)
			s.Queue.SetLimit(c.lis.Zone.MaxMqueueLen)
			n.dur.sessionCreated(s)
		} else {
			s = old
			present = true
		}
		s.Lock()
		wasPersistent := present && s.ExpiryInterval != 0
		s.Owner = c
		s.Home.Store(int32(c.loop.idx))
		s.StoreQoS0, s.UpgradeQoS = c.lis.Zone.MqueueStoreQoS0, c.lis.Zone.UpgradeQoS
		s.ExpiresAt = 0
		s.ExpiryInterval = expiry
		s.Window.SetCap(c.window())
		switch durable := expiry != 0 && n.dur.canPersist(clientID); {
		case durable && !s.Durable.Load():
			n.dur.makeDurable(s)
		case !durable:
			n.dur.dropRecords(s)
		default:
			n.saveState(s) // online now, no delayed will
		}
		s.Unlock()
		if isPersistent := expiry != 0; isPersistent != wasPersistent {
			if isPersistent {
				n.reg.AddPersistent(1)
			} else {
				n.reg.AddPersistent(-1)
			}
		}
		return s
	})
	c.sess = s
	return present
}

// endReason says why a new connection cannot resume session old ("" when it can): clean
// start, the session already ended, its expiry interval is 0, or it expired. Hold old's lock.
func endReason(old *sessions.Session, clean bool, now int64) string {
	switch {
	case clean:
		return "clean start"
	case old.Gone:
		return "expired"
	case old.ExpiryInterval == 0:
		return "session expiry 0"
	case old.ExpiresAt != 0 && now >= old.ExpiresAt:
		return "expired"
	}
	return ""
}

// window is the outbound inflight window for this connection: the zone's max_inflight,
// lowered to the client's MQTT 5 Receive Maximum [MQTT-3.3.4-7].
func (c *conn) window() int {
	w := c.lis.Zone.MaxInflight
	if w <= 0 || w > 65535 {
		w = 65535
	}
	if c.version == codec.V5 && c.clientRecvMax > 0 && int(c.clientRecvMax) < w {
		w = int(c.clientRecvMax)
	}
	return w
}

// discardLocked ends a session: its routes leave the trie and late deliveries are dropped.
// reason is for the SessionTerminated hook. Hold s's lock.
func (n *Node) discardLocked(s *sessions.Session, reason string) {
	if s.Gone {
		return
	}
	s.Gone = true
	for _, sub := range s.Subs {
		n.indexUnsubscribe(sub.Filter, s)
	}
	if s.ExpiryInterval != 0 {
		n.reg.AddPersistent(-1)
	}
	n.dur.dropRecords(s)
	dropped := s.Queue.Len() + s.Window.Len()
	if dropped > 0 {
		n.stats.dropped.Add(uint64(dropped))
	}
	if h := n.hooks.Load(); h != nil && len(h.dropped) > 0 {
		drop := func(m *sessions.Message) {
			if m != nil {
				for _, f := range h.dropped {
					f(s.ClientID, m, DropSessionDiscard)
				}
			}
		}
		s.Queue.Each(func(q sessions.Queued) bool { drop(q.Msg); return true })
		s.Window.Each(func(f *sessions.Inflight) bool { drop(f.Msg); return true })
	}
	s.Reset()
	n.terminated(s.ClientID, reason)
}

// kick closes connection oc (on its own loop) with reason code. from is the caller's loop.
func (n *Node) kick(from *loop, oc *conn, code codec.ReasonCode, why string) {
	if oc.loop == from {
		oc.set(flagTakenOver)
		oc.closeWith(code, why)
		return
	}
	ol := oc.loop
	err := ol.el.Execute(context.Background(), runFunc(func() {
		ol.begin()
		oc.set(flagTakenOver)
		oc.closeWith(code, why)
		ol.end()
	}))
	if err != nil && !errors.Is(err, errShutdown) {
		n.log.Warn("cannot close the connection of a taken-over session", "client", oc.clientID, "error", err)
	}
}
