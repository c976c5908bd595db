package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a version 2 header: verCmd, famProto, then the address block (and TLVs).
func v2(verCmd, famProto byte, block []byte) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, verCmd, famProto, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(block)))
	return append(b, block...)
}

// v2Block is an address block: source, destination, source port, destination port.
func v2Block(src, dst netip.Addr, sp, dp uint16) []byte {
	b := append(src.AsSlice(), dst.AsSlice()...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sp), dp)
}

func TestParseProxyHeaderValid(t *testing.T) {
	f := func(in string, want ProxyHeader) {
		t.Helper()
		// The header followed by an MQTT CONNECT's first bytes: only the header is consumed.
		b := append([]byte(in), 0x10, 0x0c)
		h, n, err := ParseProxyHeader(b)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if n != len(in) {
			t.Fatalf("%q: consumed %d bytes, want %d", in, n, len(in))
		}
		if h != want {
			t.Fatalf("%q: got %+v, want %+v", in, h, want)
		}
		// Every proper prefix is incomplete, never an error: the header may arrive in pieces.
		for i := range len(in) {
			if h, n, err := ParseProxyHeader([]byte(in[:i])); err != nil || n != 0 || h != (ProxyHeader{}) {
				t.Fatalf("%q cut at %d: got %+v, %d, %v; want incomplete", in, i, h, n, err)
			}
		}
	}
	ap := netip.MustParseAddrPort
	// The example of the specification (section 2.1).
	f("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		ProxyHeader{Version: 1, Proxied: true, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")})
	f("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
		ProxyHeader{Version: 1, Proxied: true, Source: ap("255.255.255.255:65535"), Destination: ap("255.255.255.255:65535")})
	f("PROXY TCP4 0.0.0.0 10.0.0.1 0 1883\r\n",
		ProxyHeader{Version: 1, Proxied: true, Source: ap("0.0.0.0:0"), Destination: ap("10.0.0.1:1883")})
	f("PROXY TCP6 2001:db8::1 2001:DB8::2 1234 1883\r\n",
		ProxyHeader{Version: 1, Proxied: true, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:1883")})
	long := "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
	f("PROXY TCP6 "+long+" "+long+" 65535 65535\r\n", // 104 bytes, the longest TCP6 line
		ProxyHeader{Version: 1, Proxied: true, Source: ap("[" + long + "]:65535"), Destination: ap("[" + long + "]:65535")})
	f("PROXY UNKNOWN\r\n", ProxyHeader{Version: 1})
	f("PROXY UNKNOWN "+long+" "+long+" 65535 65535\r\n", ProxyHeader{Version: 1}) // 107 bytes, the worst case

	a4, b4 := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("10.0.0.1")
	a6, b6 := netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("2001:db8::1")
	f(string(v2(0x21, 0x11, v2Block(a4, b4, 40000, 1883))),
		ProxyHeader{Version: 2, Proxied: true, Source: ap("203.0.113.7:40000"), Destination: ap("10.0.0.1:1883")})
	f(string(v2(0x21, 0x21, v2Block(a6, b6, 40000, 1883))),
		ProxyHeader{Version: 2, Proxied: true, Source: ap("[2001:db8::7]:40000"), Destination: ap("[2001:db8::1]:1883")})
	// TLVs after the addresses (here a PP2_TYPE_AUTHORITY and a PP2_TYPE_NOOP) are skipped.
	tlvs := append(v2Block(a4, b4, 1, 2), 0x02, 0x00, 0x04, 'h', 'o', 's', 't', 0x04, 0x00, 0x00)
	f(string(v2(0x21, 0x11, tlvs)), ProxyHeader{Version: 2, Proxied: true, Source: ap("203.0.113.7:1"), Destination: ap("10.0.0.1:2")})
	// LOCAL: the address block is skipped whatever it holds.
	f(string(v2(0x20, 0x00, nil)), ProxyHeader{Version: 2, Local: true})
	f(string(v2(0x20, 0x11, v2Block(a4, b4, 1, 2))), ProxyHeader{Version: 2, Local: true})
	// PROXY with families not served here: the socket's addresses apply.
	f(string(v2(0x21, 0x00, nil)), ProxyHeader{Version: 2})
	f(string(v2(0x21, 0x31, make([]byte, 216))), ProxyHeader{Version: 2})
	// UDP addresses are decoded like TCP ones.
	f(string(v2(0x21, 0x12, v2Block(a4, b4, 5, 6))), ProxyHeader{Version: 2, Proxied: true, Source: ap("203.0.113.7:5"), Destination: ap("10.0.0.1:6")})
}

func TestParseProxyHeaderInvalid(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		h, n, err := ParseProxyHeader([]byte(in))
		if !errors.Is(err, want) || n != 0 || h != (ProxyHeader{}) {
			t.Fatalf("%q: got %+v, %d, %v; want %v", in, h, n, err, want)
		}
	}
	// An MQTT CONNECT sent directly, HTTP, TLS: refused from the first byte.
	f("\x10\x0c\x00\x04MQTT", ErrProxyMissing)
	f("GET / HTTP/1.1\r\n", ErrProxyMissing)
	f("\x16\x03\x01", ErrProxyMissing)
	f("PROXI", ErrProxyMissing)
	f("PROXY\r", ErrProxyMissing)
	f("\r\n\r\n\x00\r\nQUIX", ErrProxyMissing)
	f("\r\r", ErrProxyMissing)

	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ErrProxyV1Line)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", ErrProxyV1Line)
	f("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", ErrProxyV1Line)
	f("PROXY "+strings.Repeat("A", 101), ErrProxyV1TooLong)
	f("PROXY UNKNOWN "+strings.Repeat("f", 92)+"\r\n", ErrProxyV1TooLong) // 108 bytes
	f("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", ErrProxyV1Protocol)
	f("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", ErrProxyV1Protocol)
	f("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrProxyV1Protocol)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ErrProxyV1Fields)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", ErrProxyV1Fields)
	f("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", ErrProxyV1Fields)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", ErrProxyV1Fields)
	f("PROXY TCP4\r\n", ErrProxyV1Fields)
	f("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", ErrProxyV1Address) // leading zero
	f("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", ErrProxyV1Address)
	f("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", ErrProxyV1Address) // family mismatch
	f("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ErrProxyV1Address)
	f("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", ErrProxyV1Address)
	f("PROXY TCP4 1.2.3.4 example.com 1 2\r\n", ErrProxyV1Address)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", ErrProxyV1Port)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", ErrProxyV1Port)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", ErrProxyV1Port)
	f("PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n", ErrProxyV1Port)

	sig := string(proxyV2Sig)
	f(sig+"\x11", ErrProxyV2Version)
	f(sig+"\x22", ErrProxyV2Command)
	f(sig+"\x2f", ErrProxyV2Command)
	f(sig+"\x21\x41", ErrProxyV2Family)
	f(sig+"\x21\x13", ErrProxyV2Family)
	f(string(v2(0x21, 0x11, make([]byte, 11))), ErrProxyV2Short)
	f(string(v2(0x21, 0x21, make([]byte, 35))), ErrProxyV2Short)
	f(string(v2(0x21, 0x31, make([]byte, 100))), ErrProxyV2Short)
}

// A version 2 header may announce up to 65535 bytes; until they are all there it is
// incomplete, and the reader never looks past its end.
func TestParseProxyHeaderV2Length(t *testing.T) {
	block := v2Block(netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8"), 1, 2)
	block = append(block, make([]byte, 65535-len(block))...)
	b := v2(0x21, 0x11, block)
	if len(b) != ProxyV2MaxLen {
		t.Fatalf("header of %d bytes, want %d", len(b), ProxyV2MaxLen)
	}
	if _, n, err := ParseProxyHeader(b[:len(b)-1]); n != 0 || err != nil {
		t.Fatalf("one byte short: %d, %v; want incomplete", n, err)
	}
	h, n, err := ParseProxyHeader(append(b, "rest"...))
	if err != nil || n != ProxyV2MaxLen || h.Source != netip.MustParseAddrPort("1.2.3.4:1") {
		t.Fatalf("got %+v, %d, %v", h, n, err)
	}
}

func TestParseProxyHeaderV2Allocs(t *testing.T) {
	b := v2(0x21, 0x21, v2Block(netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("::1"), 1, 2))
	if a := testing.AllocsPerRun(100, func() { _, _, _ = ParseProxyHeader(b) }); a != 0 {
		t.Fatalf("%v allocations per version 2 header, want 0", a)
	}
}

// FuzzParseProxyHeader checks that no input panics, that a header is never longer than the
// input or the limits, that incomplete input stays within the limits, and that a parsed
// header parses the same when more bytes follow it.
func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::1 1 2\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(0x21, 0x11, v2Block(netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8"), 1, 2)))
	f.Add(v2(0x20, 0x00, nil))
	f.Add([]byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseProxyHeader(b)
		switch {
		case err != nil:
			if n != 0 || h != (ProxyHeader{}) {
				t.Fatalf("error %v with n = %d, %+v", err, n, h)
			}
		case n == 0:
			if len(b) >= ProxyV2MaxLen || bytes.HasPrefix(b, proxyV1Prefix) && len(b) >= ProxyV1MaxLen {
				t.Fatalf("%d bytes still incomplete", len(b))
			}
		default:
			if n > len(b) || h.Version == 1 && n > ProxyV1MaxLen || n > ProxyV2MaxLen {
				t.Fatalf("header of %d bytes from %d", n, len(b))
			}
			h2, n2, err2 := ParseProxyHeader(append(b[:n:n], 0x10, 0, '\r', '\n'))
			if h2 != h || n2 != n || err2 != nil {
				t.Fatalf("with bytes after: %+v %d %v, alone: %+v %d", h2, n2, err2, h, n)
			}
			if h.Proxied && (!h.Source.IsValid() || !h.Destination.IsValid()) {
				t.Fatalf("proxied header without addresses: %+v", h)
			}
		}
	})
}
