package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) lets a TCP proxy or
// load balancer tell the server who its client is: the proxy writes one header before the
// client's bytes. ParseProxyHeader decodes that header from the start of a connection's input
// without blocking and without a goroutine: the caller peeks at what has arrived, calls it,
// and either waits for more input, discards the header's bytes, or closes the connection.

// Sizes of PROXY protocol headers.
const (
	// ProxyV1MaxLen is the longest version 1 line, CRLF included ("PROXY UNKNOWN" with two
	// IPv6 addresses and two ports).
	ProxyV1MaxLen = 107
	// ProxyV2MaxLen is the longest version 2 header: 16 fixed bytes and a 16-bit length.
	ProxyV2MaxLen = 16 + 65535
	// ProxyMaxLen is the most input ParseProxyHeader may need to see.
	ProxyMaxLen = ProxyV2MaxLen
)

// proxyV2Sig is the 12-byte signature that starts a version 2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyV1Prefix starts a version 1 line.
var proxyV1Prefix = []byte("PROXY ")

// ProxyHeader is a decoded PROXY protocol header.
type ProxyHeader struct {
	Version int // 1 or 2
	// Local is set for a version 2 LOCAL command: the proxy opened the connection for
	// itself (a health check), and the socket's own addresses apply.
	Local bool
	// Proxied is set when the header carries the original connection's addresses (version
	// 1 TCP4 or TCP6, version 2 PROXY over TCP or UDP on IPv4 or IPv6); Source and
	// Destination are valid only then. A version 1 UNKNOWN line, a LOCAL command and the
	// families not served here (UNSPEC, AF_UNIX) leave it false: the socket's addresses
	// apply, as the specification asks of a receiver.
	Proxied     bool
	Source      netip.AddrPort // the client as the proxy saw it
	Destination netip.AddrPort // the address the client connected to
}

// Errors of ParseProxyHeader: the input is not a valid PROXY protocol header. Each names
// the cause; the caller closes the connection.
var (
	ErrProxyMissing    = errors.New("transport: input does not start with a PROXY protocol header")
	ErrProxyV1TooLong  = errors.New("transport: PROXY v1 line has no CRLF within 107 bytes")
	ErrProxyV1Line     = errors.New("transport: PROXY v1 line ends with a lone CR or LF")
	ErrProxyV1Protocol = errors.New("transport: PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN")
	ErrProxyV1Fields   = errors.New("transport: PROXY v1 line does not have exactly two addresses and two ports separated by single spaces")
	ErrProxyV1Address  = errors.New("transport: PROXY v1 address is not a canonical address of the announced family")
	ErrProxyV1Port     = errors.New("transport: PROXY v1 port is not a decimal number from 0 to 65535 without leading zeros")
	ErrProxyV2Version  = errors.New("transport: PROXY v2 header has a version other than 2")
	ErrProxyV2Command  = errors.New("transport: PROXY v2 command is neither LOCAL nor PROXY")
	ErrProxyV2Family   = errors.New("transport: PROXY v2 address family or transport protocol is unassigned")
	ErrProxyV2Short    = errors.New("transport: PROXY v2 address block is shorter than its address family needs")
)

// ParseProxyHeader decodes the PROXY protocol header at the start of b.
//
// It returns the header and its length in bytes once b holds all of it; n == 0 with a nil
// error when b is a valid beginning of a header that is not complete yet (the caller waits
// for more input: at most ProxyV1MaxLen bytes for version 1, 16 plus the announced length for
// version 2); and an error as soon as b cannot be the start of a valid header. b is only
// read; the header keeps no reference to it. It allocates nothing for version 2 (version 1
// converts its address text to strings). Safe for concurrent use.
func ParseProxyHeader(b []byte) (h ProxyHeader, n int, err error) {
	switch {
	case len(b) == 0:
		return h, 0, nil
	case b[0] == 'P':
		if !bytes.HasPrefix(b, proxyV1Prefix[:min(len(b), len(proxyV1Prefix))]) {
			return h, 0, ErrProxyMissing
		}
		return parseProxyV1(b)
	case b[0] == '\r':
		if !bytes.HasPrefix(b, proxyV2Sig[:min(len(b), len(proxyV2Sig))]) {
			return h, 0, ErrProxyMissing
		}
		return parseProxyV2(b)
	}
	return h, 0, ErrProxyMissing
}

// parseProxyV1 decodes "PROXY <TCP4|TCP6|UNKNOWN> src dst sport dport\r\n". b starts with
// a prefix of "PROXY ".
func parseProxyV1(b []byte) (h ProxyHeader, n int, err error) {
	end := -1
	for i, c := range b[:min(len(b), ProxyV1MaxLen)] {
		if c == '\n' {
			if i == 0 || b[i-1] != '\r' {
				return h, 0, ErrProxyV1Line // [spec 2.1] a lone LF does not end the line
			}
			end = i - 1
			break
		}
		if i > 0 && b[i-1] == '\r' {
			return h, 0, ErrProxyV1Line // CR not followed by LF
		}
	}
	if end < 0 {
		if len(b) >= ProxyV1MaxLen {
			return h, 0, ErrProxyV1TooLong
		}
		return h, 0, nil // wait for the CRLF
	}
	h.Version = 1
	n = end + 2
	line := b[len(proxyV1Prefix):end]
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	var want4 bool
	switch string(proto) {
	case "UNKNOWN":
		// The receiver ignores the rest of the line and keeps the socket's addresses.
		return h, n, nil
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return ProxyHeader{}, 0, ErrProxyV1Protocol
	}
	var f [4][]byte
	for i := range f {
		var sep bool
		f[i], rest, sep = bytes.Cut(rest, []byte{' '})
		if len(f[i]) == 0 || sep != (i < 3) {
			return ProxyHeader{}, 0, ErrProxyV1Fields
		}
	}
	src, err1 := proxyV1Addr(f[0], want4)
	dst, err2 := proxyV1Addr(f[1], want4)
	if err1 != nil || err2 != nil {
		return ProxyHeader{}, 0, ErrProxyV1Address
	}
	sp, ok1 := proxyV1Port(f[2])
	dp, ok2 := proxyV1Port(f[3])
	if !ok1 || !ok2 {
		return ProxyHeader{}, 0, ErrProxyV1Port
	}
	h.Proxied = true
	h.Source = netip.AddrPortFrom(src, sp)
	h.Destination = netip.AddrPortFrom(dst, dp)
	return h, n, nil
}

// proxyV1Addr parses an address of a TCP4 (want4) or TCP6 line. Go's parser already refuses
// leading zeros in IPv4 octets; zones are no part of the format.
func proxyV1Addr(s []byte, want4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(s))
	switch {
	case err != nil:
		return a, err
	case want4 && !a.Is4(), !want4 && !a.Is6(), a.Zone() != "":
		return a, ErrProxyV1Address
	}
	return a, nil
}

// proxyV1Port parses a decimal port from 0 to 65535 without leading zeros.
func proxyV1Port(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return uint16(v), v <= 65535
}

// parseProxyV2 decodes the binary header. b starts with a prefix of the signature.
func parseProxyV2(b []byte) (h ProxyHeader, n int, err error) {
	// Check the version and command bytes as soon as they arrive, so that garbage is
	// refused without waiting for a length that means nothing.
	if len(b) > 12 {
		if b[12]>>4 != 2 {
			return h, 0, ErrProxyV2Version
		}
		if cmd := b[12] & 0x0f; cmd > 1 {
			return h, 0, ErrProxyV2Command
		}
	}
	if len(b) > 13 {
		if fam, proto := b[13]>>4, b[13]&0x0f; fam > 3 || proto > 2 {
			return h, 0, ErrProxyV2Family
		}
	}
	if len(b) < 16 {
		return h, 0, nil
	}
	total := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < total {
		return h, 0, nil
	}
	h.Version = 2
	addrs := b[16:total] // addresses, then TLVs, which are ignored
	if b[12]&0x0f == 0 {
		h.Local = true // LOCAL: the block is skipped whatever its family says
		return h, total, nil
	}
	switch b[13] {
	case 0x11, 0x12: // TCP or UDP over IPv4
		if len(addrs) < 12 {
			return ProxyHeader{}, 0, ErrProxyV2Short
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[0:4])), binary.BigEndian.Uint16(addrs[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[4:8])), binary.BigEndian.Uint16(addrs[10:12]))
		h.Proxied = true
	case 0x21, 0x22: // TCP or UDP over IPv6
		if len(addrs) < 36 {
			return ProxyHeader{}, 0, ErrProxyV2Short
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[0:16])), binary.BigEndian.Uint16(addrs[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[16:32])), binary.BigEndian.Uint16(addrs[34:36]))
		h.Proxied = true
	case 0x31, 0x32:
		if len(addrs) < 216 {
			return ProxyHeader{}, 0, ErrProxyV2Short
		}
		// AF_UNIX: no IP address to use; the socket's apply.
	}
	// UNSPEC (and the unassigned combinations with UNSPEC in one nibble) keep the socket's
	// addresses, as the specification allows a receiver.
	return h, total, nil
}
