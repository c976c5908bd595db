package tlspsk

import (
	"errors"
	"io"
	"strconv"
)

// ErrUnknownIdentity is wrapped by the handshake error of a server whose client named an
// identity that GetKey does not know. The client sees the same decrypt_error alert as for a
// wrong key (RFC 4279 section 2 allows hiding which identities exist).
var ErrUnknownIdentity = errors.New("tlspsk: unknown PSK identity")

// ErrWrongKey is wrapped by the handshake error of a server whose client's Finished message
// does not verify under the identity's key: the client uses another key.
var ErrWrongKey = errors.New("tlspsk: the client's key differs from the server's for its identity")

// keyError is a Finished failure: the decrypt_error alert sent, with the cause for the log.
type keyError struct {
	*AlertError
	cause error
}

func (e *keyError) Unwrap() []error { return []error{e.AlertError, e.cause} }

func (c *Conn) serverHandshake() error {
	if c.cfg.GetKey == nil {
		return local(AlertInternalError, "server Config has no GetKey")
	}
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeClientHello {
		return local(AlertUnexpectedMessage, "expected ClientHello, got handshake message "+itoa(int(msg[0])))
	}
	ch, err := parseClientHello(msg[4:])
	if err != nil {
		return err
	}
	c.transcript = append(c.transcript, msg...)
	switch {
	case ch.version < version12:
		return local(AlertProtocolVersion, "the client offers TLS 1.1 or older (version 0x"+strconv.FormatUint(uint64(ch.version), 16)+"); TLS-PSK here is TLS 1.2")
	case !ch.nullComp:
		return local(AlertIllegalParameter, "the client does not offer the null compression method")
	case ch.renegFilled:
		return local(AlertHandshakeFailure, "renegotiation_info is not empty on a first handshake")
	}
	var s *suite
	for _, id := range c.cfg.suites() {
		for _, offered := range ch.suites {
			if id == offered && s == nil {
				s = suiteByID(id)
			}
		}
	}
	if s == nil {
		return local(AlertHandshakeFailure, "no PSK cipher suite in common with the client")
	}
	c.state.CipherSuite = s.id
	c.state.ExtendedMasterSecret = ch.ems
	c.state.SecureRenegotiation = ch.renegInfo
	c.state.ServerName = ch.serverName
	c.state.Hint = c.cfg.Hint

	serverRandom := make([]byte, 32)
	if _, err := io.ReadFull(c.cfg.rand(), serverRandom); err != nil {
		return local(AlertInternalError, "no random bytes: "+err.Error())
	}
	body := appendU16(nil, version12)
	body = append(body, serverRandom...)
	body = append(body, 0) // no session id: no resumption
	body = appendU16(body, s.id)
	body = append(body, 0) // null compression
	var exts []byte
	if ch.renegInfo {
		exts = appendExtension(exts, extRenegotiationInfo, []byte{0})
	}
	if ch.ems {
		exts = appendExtension(exts, extExtendedMasterSecret, nil)
	}
	if len(exts) > 0 {
		body = appendVec16(body, exts)
	}
	flight := handshakeMessage(nil, typeServerHello, body)
	if c.cfg.Hint != "" {
		flight = handshakeMessage(flight, typeServerKeyExchange, appendVec16(nil, []byte(c.cfg.Hint)))
	}
	flight = handshakeMessage(flight, typeServerHelloDone, nil)
	c.transcript = append(c.transcript, flight...)
	if err := c.writeHandshake(flight); err != nil {
		return err
	}

	if msg, err = c.readHandshake(); err != nil {
		return err
	}
	if msg[0] != typeClientKeyExchange {
		return local(AlertUnexpectedMessage, "expected ClientKeyExchange, got handshake message "+itoa(int(msg[0])))
	}
	p := newParser(msg[4:])
	identity := p.vec16()
	if !p.done() {
		return local(AlertDecodeError, "malformed ClientKeyExchange")
	}
	if len(identity) > maxIdentity {
		return local(AlertIllegalParameter, "PSK identity of "+itoa(len(identity))+" bytes")
	}
	c.transcript = append(c.transcript, msg...)
	c.state.Identity = string(identity)
	key, known := c.cfg.GetKey(c.state.Identity)
	if !known || len(key) == 0 {
		// Go on with a random key: the client's Finished then fails as with a wrong key.
		known = false
		key = make([]byte, 32)
		if _, err := io.ReadFull(c.cfg.rand(), key); err != nil {
			return local(AlertInternalError, "no random bytes: "+err.Error())
		}
	}
	pms := pskPremaster(key)
	var sessionHash []byte
	if ch.ems {
		sessionHash = c.transcriptHash(s)
	}
	ms := masterSecret(s, pms, ch.random, serverRandom, sessionHash, ch.ems)
	clear(pms)
	kb := keysFromMaster(s, ms, ch.random, serverRandom)

	keyErr := func() error {
		cause := ErrWrongKey
		reason := "the client's Finished does not verify: wrong key for identity " + strconv.Quote(c.state.Identity)
		if !known {
			cause = ErrUnknownIdentity
			reason = "unknown PSK identity " + strconv.Quote(c.state.Identity)
		}
		return &keyError{AlertError: local(AlertDecryptError, reason), cause: cause}
	}
	if err := c.readChangeCipherSpec(); err != nil {
		return err
	}
	if err := c.in.hc.setKeys(s, kb.clientKey, kb.clientMAC, kb.clientIV); err != nil {
		return local(AlertInternalError, err.Error())
	}
	want := c.finishedMessage(s, ms, true)
	msg, err = c.readHandshake()
	if err != nil {
		var ae *AlertError
		if errors.As(err, &ae) && ae.Sent && ae.Alert == AlertBadRecordMAC {
			return keyErr() // the Finished record does not decrypt under our key
		}
		return err
	}
	if !checkFinished(msg, want) {
		return keyErr()
	}
	c.transcript = append(c.transcript, msg...)
	fin := c.finishedMessage(s, ms, false)
	return c.writeFinishedFlight(nil, s, kb.serverKey, kb.serverMAC, kb.serverIV, fin)
}
