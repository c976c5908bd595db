package tlspsk

import "encoding/binary"

// Handshake message types (RFC 5246 section 7.4).
const (
	typeHelloRequest       byte = 0
	typeClientHello        byte = 1
	typeServerHello        byte = 2
	typeCertificate        byte = 11
	typeServerKeyExchange  byte = 12
	typeCertificateRequest byte = 13
	typeServerHelloDone    byte = 14
	typeClientKeyExchange  byte = 16
	typeFinished           byte = 20
)

// Extensions this package reads or sends.
const (
	extServerName           uint16 = 0      // RFC 6066
	extExtendedMasterSecret uint16 = 0x0017 // RFC 7627
	extRenegotiationInfo    uint16 = 0xff01 // RFC 5746
)

// maxHandshakeMessage bounds a handshake message (a ClientHello with many extensions fits
// easily; nothing in a PSK handshake comes near).
const maxHandshakeMessage = 64 << 10

// maxIdentity bounds a PSK identity (RFC 4279 section 5.3 asks for at least 128 bytes).
const maxIdentity = 1024

// parser reads a message with bounds checks: a read past the end yields zero values and
// clears ok, which the caller checks once at the end.
type parser struct {
	b  []byte
	ok bool
}

func newParser(b []byte) parser { return parser{b: b, ok: true} }

func (p *parser) bytes(n int) []byte {
	if !p.ok || n < 0 || n > len(p.b) {
		p.ok = false
		return nil
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v
}

func (p *parser) u8() byte {
	if v := p.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (p *parser) u16() uint16 {
	if v := p.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (p *parser) u24() int {
	if v := p.bytes(3); v != nil {
		return int(v[0])<<16 | int(v[1])<<8 | int(v[2])
	}
	return 0
}

func (p *parser) vec8() []byte  { return p.bytes(int(p.u8())) }
func (p *parser) vec16() []byte { return p.bytes(int(p.u16())) }

// done reports whether everything parsed and nothing is left.
func (p *parser) done() bool { return p.ok && len(p.b) == 0 }

// clientHello is the part of a ClientHello this package uses.
type clientHello struct {
	version     uint16
	random      []byte
	suites      []uint16
	nullComp    bool // the null compression method is offered
	ems         bool
	renegInfo   bool // renegotiation_info extension (empty) or its SCSV
	serverName  string
	renegFilled bool // renegotiation_info not empty: a renegotiation (refused)
}

// parseClientHello parses the body of a ClientHello (after the 4-byte message header).
func parseClientHello(body []byte) (*clientHello, error) {
	p := newParser(body)
	ch := &clientHello{version: p.u16(), random: p.bytes(32)}
	if sid := p.vec8(); len(sid) > 32 {
		return nil, local(AlertDecodeError, "ClientHello session id of "+itoa(len(sid))+" bytes")
	}
	cs := p.vec16()
	if len(cs)%2 != 0 || len(cs) == 0 {
		p.ok = false
	}
	for i := 0; i+1 < len(cs); i += 2 {
		id := binary.BigEndian.Uint16(cs[i:])
		ch.suites = append(ch.suites, id)
		if id == scsvRenegotiation {
			ch.renegInfo = true
		}
	}
	for _, m := range p.vec8() {
		ch.nullComp = ch.nullComp || m == 0
	}
	if !p.ok {
		return nil, local(AlertDecodeError, "ClientHello is truncated")
	}
	if len(p.b) == 0 { // no extensions
		return ch, nil
	}
	exts := newParser(p.vec16())
	if !p.done() {
		return nil, local(AlertDecodeError, "ClientHello has bytes after its extensions")
	}
	var seen []uint16
	for exts.ok && len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec16()
		if !exts.ok {
			break
		}
		for _, s := range seen {
			if s == typ {
				return nil, local(AlertIllegalParameter, "ClientHello repeats extension "+itoa(int(typ)))
			}
		}
		seen = append(seen, typ)
		switch typ {
		case extExtendedMasterSecret:
			if len(data) != 0 {
				return nil, local(AlertDecodeError, "extended_master_secret extension is not empty")
			}
			ch.ems = true
		case extRenegotiationInfo:
			d := newParser(data)
			v := d.vec8()
			if !d.done() {
				return nil, local(AlertDecodeError, "malformed renegotiation_info extension")
			}
			ch.renegInfo = true
			ch.renegFilled = len(v) > 0
		case extServerName:
			ch.serverName = parseServerName(data)
		}
	}
	if !exts.ok {
		return nil, local(AlertDecodeError, "ClientHello extensions are truncated")
	}
	return ch, nil
}

// parseServerName returns the host name of a server_name extension, "" when there is none
// or it is malformed (SNI is informative here).
func parseServerName(data []byte) string {
	p := newParser(data)
	list := newParser(p.vec16())
	for list.ok && len(list.b) > 0 {
		typ := list.u8()
		name := list.vec16()
		if list.ok && typ == 0 {
			return string(name)
		}
	}
	return ""
}

// handshakeMessage appends a handshake message of type typ with body to dst.
func handshakeMessage(dst []byte, typ byte, body []byte) []byte {
	n := len(body)
	dst = append(dst, typ, byte(n>>16), byte(n>>8), byte(n))
	return append(dst, body...)
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

// appendVec16 appends v with a 2-byte length.
func appendVec16(b, v []byte) []byte { return append(appendU16(b, uint16(len(v))), v...) }

// appendExtension appends an extension with its data.
func appendExtension(b []byte, typ uint16, data []byte) []byte {
	return appendVec16(appendU16(b, typ), data)
}
