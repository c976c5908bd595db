package tlspsk

import (
	"errors"
	"io"
	"slices"
	"strconv"
)

func (c *Conn) clientHandshake() error {
	if c.cfg.Identity == "" || len(c.cfg.Key) == 0 {
		return errors.New("tlspsk: client Config needs Identity and Key")
	}
	if len(c.cfg.Identity) > maxIdentity {
		return errors.New("tlspsk: PSK identity longer than " + itoa(maxIdentity) + " bytes")
	}
	offered := c.cfg.suites()
	clientRandom := make([]byte, 32)
	if _, err := io.ReadFull(c.cfg.rand(), clientRandom); err != nil {
		return errors.New("tlspsk: no random bytes: " + err.Error())
	}
	body := appendU16(nil, version12)
	body = append(body, clientRandom...)
	body = append(body, 0) // no session id
	var cs []byte
	for _, id := range offered {
		cs = appendU16(cs, id)
	}
	body = appendVec16(body, cs)
	body = append(body, 1, 0) // null compression only
	var exts []byte
	if c.cfg.ServerName != "" {
		name := appendVec16([]byte{0}, []byte(c.cfg.ServerName))
		exts = appendExtension(exts, extServerName, appendVec16(nil, name))
	}
	exts = appendExtension(exts, extExtendedMasterSecret, nil)
	exts = appendExtension(exts, extRenegotiationInfo, []byte{0})
	body = appendVec16(body, exts)
	hello := handshakeMessage(nil, typeClientHello, body)
	c.transcript = append(c.transcript, hello...)
	if err := c.writeHandshake(hello); err != nil {
		return err
	}

	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeServerHello {
		return local(AlertUnexpectedMessage, "expected ServerHello, got handshake message "+itoa(int(msg[0])))
	}
	p := newParser(msg[4:])
	version := p.u16()
	serverRandom := p.bytes(32)
	sid := p.vec8()
	id := p.u16()
	comp := p.u8()
	var extData []byte
	if p.ok && len(p.b) > 0 {
		extData = p.vec16()
	}
	if !p.done() || len(sid) > 32 {
		return local(AlertDecodeError, "malformed ServerHello")
	}
	if version != version12 {
		return local(AlertProtocolVersion, "the server chose version 0x"+strconv.FormatUint(uint64(version), 16)+", not TLS 1.2")
	}
	s := suiteByID(id)
	if s == nil || !slices.Contains(offered, id) {
		return local(AlertIllegalParameter, "the server chose cipher suite "+CipherSuiteName(id)+", which was not offered")
	}
	if comp != 0 {
		return local(AlertIllegalParameter, "the server chose a compression method")
	}
	ems := false
	ep := newParser(extData)
	for ep.ok && len(ep.b) > 0 {
		typ := ep.u16()
		data := ep.vec16()
		switch {
		case !ep.ok:
		case typ == extExtendedMasterSecret && len(data) == 0:
			ems = true
		case typ == extRenegotiationInfo:
			if len(data) != 1 || data[0] != 0 {
				return local(AlertHandshakeFailure, "the server's renegotiation_info is not empty")
			}
			c.state.SecureRenegotiation = true
		case typ == extServerName && len(data) == 0:
		default:
			return local(AlertUnsupportedExt, "the server sent extension "+itoa(int(typ))+", which was not offered")
		}
	}
	if !ep.ok {
		return local(AlertDecodeError, "malformed ServerHello extensions")
	}
	c.transcript = append(c.transcript, msg...)
	c.state.CipherSuite = s.id
	c.state.ExtendedMasterSecret = ems
	c.state.Identity = c.cfg.Identity

	for done := false; !done; {
		if msg, err = c.readHandshake(); err != nil {
			return err
		}
		switch msg[0] {
		case typeServerKeyExchange:
			if c.state.Hint != "" {
				return local(AlertUnexpectedMessage, "two ServerKeyExchange messages")
			}
			p := newParser(msg[4:])
			hint := p.vec16()
			if !p.done() {
				return local(AlertDecodeError, "malformed ServerKeyExchange")
			}
			c.state.Hint = string(hint)
		case typeServerHelloDone:
			if len(msg) != 4 {
				return local(AlertDecodeError, "ServerHelloDone is not empty")
			}
			done = true
		case typeCertificate, typeCertificateRequest:
			return local(AlertUnexpectedMessage, "the server sends or asks for a certificate: not a plain PSK handshake")
		default:
			return local(AlertUnexpectedMessage, "unexpected handshake message "+itoa(int(msg[0]))+" after ServerHello")
		}
		c.transcript = append(c.transcript, msg...)
	}

	cke := handshakeMessage(nil, typeClientKeyExchange, appendVec16(nil, []byte(c.cfg.Identity)))
	c.transcript = append(c.transcript, cke...)
	pms := pskPremaster(c.cfg.Key)
	var sessionHash []byte
	if ems {
		sessionHash = c.transcriptHash(s)
	}
	ms := masterSecret(s, pms, clientRandom, serverRandom, sessionHash, ems)
	clear(pms)
	kb := keysFromMaster(s, ms, clientRandom, serverRandom)
	fin := c.finishedMessage(s, ms, true)
	c.transcript = append(c.transcript, fin...)
	if err := c.writeFinishedFlight(cke, s, kb.clientKey, kb.clientMAC, kb.clientIV, fin); err != nil {
		return err
	}
	if err := c.readChangeCipherSpec(); err != nil {
		return err
	}
	if err := c.in.hc.setKeys(s, kb.serverKey, kb.serverMAC, kb.serverIV); err != nil {
		return local(AlertInternalError, err.Error())
	}
	want := c.finishedMessage(s, ms, false)
	if msg, err = c.readHandshake(); err != nil {
		return err
	}
	if !checkFinished(msg, want) {
		return local(AlertDecryptError, "the server's Finished does not verify")
	}
	return nil
}
