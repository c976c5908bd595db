package engine

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/acl"
)

// proxyNode starts a node whose listener expects the PROXY protocol, with acl.conf letting
// only the client at 203.0.113.7 subscribe to real/#, and returns it with a channel of the
// peers the ClientConnected hook saw.
func proxyNode(t *testing.T, mutate func(*Config)) (*Node, string, chan netip.AddrPort) {
	t.Helper()
	rules, err := acl.Parse("acl.conf", []byte(`{allow, {ipaddr, "203.0.113.7"}, subscribe, ["real/#"]}.`+"\n"+
		`{allow, {ipaddr, "2001:db8::/32"}, subscribe, ["real/#"]}.`+"\n"+`{allow, all, subscribe, ["open/#"]}.`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	n, addr := testNode(t, func(c *Config) {
		c.Listeners[0].ProxyProtocol = true
		c.ACL = rules
		c.ACLNoMatch = acl.Deny
		if mutate != nil {
			mutate(c)
		}
	})
	peers := make(chan netip.AddrPort, 16)
	t.Cleanup(n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { peers <- ev.Peer }}))
	return n, addr, peers
}

func nextPeer(t *testing.T, peers chan netip.AddrPort) netip.AddrPort {
	t.Helper()
	select {
	case p := <-peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no client connected within 5s")
		return netip.AddrPort{}
	}
}

// proxyV2 builds a version 2 header with command cmd (0 LOCAL, 1 PROXY) for src → dst.
func proxyV2(cmd byte, src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	fam := byte(0x11)
	if src.Addr().Is6() {
		fam = 0x21
	}
	block := append(src.Addr().AsSlice(), dst.Addr().AsSlice()...)
	block = binary.BigEndian.AppendUint16(block, src.Port())
	block = binary.BigEndian.AppendUint16(block, dst.Port())
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return append(b, block...)
}

// proxyClient dials addr, sends header, then (in a separate write when split) a CONNECT, and
// returns the client after a successful CONNACK.
func proxyClient(t *testing.T, addr string, header []byte, split bool, id string) *client {
	t.Helper()
	c := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	connect := connectPacket(codec.V5, id, nil)
	if split {
		// The header in two pieces, a pause between them: the loop must wait for the rest.
		c.send(header[:len(header)/2])
		time.Sleep(50 * time.Millisecond)
		c.send(header[len(header)/2:])
		time.Sleep(20 * time.Millisecond)
		c.send(connect)
	} else {
		c.send(append(append([]byte(nil), header...), connect...))
	}
	if ack := c.connack(); ack.Code != codec.Success {
		t.Fatalf("CONNACK %v", ack.Code)
	}
	return c
}

func TestProxyProtocolHeaders(t *testing.T) {
	_, addr, peers := proxyNode(t, nil)
	dst := netip.MustParseAddrPort(addr)
	f := func(name string, header []byte, want netip.AddrPort, wantReal bool) {
		t.Helper()
		for _, split := range []bool{false, true} {
			c := proxyClient(t, addr, header, split, name)
			if got := nextPeer(t, peers); got != want {
				t.Fatalf("%s (split %v): peer %v, want %v", name, split, got, want)
			}
			// acl.conf's ipaddr rules judge the header's address, not the socket's.
			codes := c.subscribe(1, 0, sub("real/x", 1), sub("open/x", 1))
			wantCode := codec.NotAuthorized
			if wantReal {
				wantCode = 1
			}
			if codes[0] != wantCode || codes[1] != 1 {
				t.Fatalf("%s: SUBACK %v, want [%v 1]", name, codes, wantCode)
			}
			c.disconnect(0, nil)
		}
	}
	real4 := netip.MustParseAddrPort("203.0.113.7:40000")
	other4 := netip.MustParseAddrPort("198.51.100.9:50000")
	real6 := netip.MustParseAddrPort("[2001:db8::7]:40001")
	f("v1", []byte("PROXY TCP4 203.0.113.7 "+dst.Addr().String()+" 40000 "+strconv.Itoa(int(dst.Port()))+"\r\n"), real4, true)
	f("v1-other", []byte("PROXY TCP4 198.51.100.9 127.0.0.1 50000 1883\r\n"), other4, false)
	f("v1-ipv6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 40001 1883\r\n"), real6, true)
	f("v2", proxyV2(1, real4, dst), real4, true)
	f("v2-other", proxyV2(1, other4, dst), other4, false)
	f("v2-ipv6", proxyV2(1, real6, netip.MustParseAddrPort("[2001:db8::1]:1883")), real6, true)
	// LOCAL (a proxy's health check) and UNKNOWN keep the socket's address: 127.0.0.1.
	local := func(got netip.AddrPort) bool { return got.Addr() == netip.MustParseAddr("127.0.0.1") }
	for _, h := range [][]byte{proxyV2(0, real4, dst), []byte("PROXY UNKNOWN\r\n")} {
		c := proxyClient(t, addr, h, false, "local")
		if got := nextPeer(t, peers); !local(got) {
			t.Fatalf("LOCAL/UNKNOWN header %q: peer %v, want the socket's 127.0.0.1", h, got)
		}
		if codes := c.subscribe(1, 0, sub("real/x", 1)); codes[0] != codec.NotAuthorized {
			t.Fatalf("socket address allowed real/#: %v", codes)
		}
	}
}

// Connections without a valid header are closed without an answer and counted, and the log
// gets one summary line for all of them, not a line each.
func TestProxyProtocolRefused(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, addr := testNodeLog(t, func(c *Config) {
		c.Listeners[0].ProxyProtocol = true
		c.Listeners[0].ProxyProtocolTimeout = 300 * time.Millisecond
	}, log)
	// A plain CONNECT (no header), a garbled v1 line, a bad v2 version byte.
	bad := [][]byte{
		connectPacket(codec.V311, "plain", nil),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
		[]byte("\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c"),
		[]byte("PROXY TCP4 203.0.113.7 127.0.0.1 40000 1883\n"), // LF without CR
	}
	for _, b := range bad {
		c := dialRaw(t, addr)
		c.send(b)
		c.refused()
	}
	// A header that never completes, and a connection that sends nothing: closed at the timeout.
	start := time.Now()
	partial := dialRaw(t, addr)
	partial.send([]byte("PROXY TCP4 203.0.11"))
	silent := dialRaw(t, addr)
	partial.refused()
	silent.refused()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("closed after %v, before proxy_protocol_timeout", d)
	}
	waitFor(t, 5*time.Second, "refusals counted", func() bool { return metric(n, "connections.refused.proxy_protocol") == 6 })
	if li := n.Listeners()[0]; li.RefusedProxyProtocol != 6 || !li.ProxyProtocol {
		t.Fatalf("listener info %+v, want 6 proxy refusals", li)
	}
	waitConns(t, n, 0)
	n.summariseAdmissions(time.Now().Add(time.Hour).UnixNano())
	out := buf.String()
	// The summaries (one per listener and interval; the ticker may have written one before
	// all six refusals were in) count each refusal once.
	total := 0
	for _, m := range regexp.MustCompile(`refused_proxy_protocol=(\d+)`).FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		total += k
	}
	if total != 6 || strings.Count(out, "listener admission") > 2 {
		t.Fatalf("want summary lines counting 6 refusals in all, log:\n%s", out)
	}
	if strings.Contains(out, "closing connection") {
		t.Fatalf("a refused connection was logged on its own:\n%s", out)
	}
}

// A listener without the option treats a PROXY header as the bad first packet it is.
func TestProxyProtocolOff(t *testing.T) {
	n, addr := testNode(t, nil)
	c := dialRaw(t, addr)
	c.send(proxyV2(1, netip.MustParseAddrPort("203.0.113.7:1"), netip.MustParseAddrPort(addr)))
	c.closed() // packet type 0 is reserved: a protocol error at once
	if got := metric(n, "connections.refused.proxy_protocol"); got != 0 {
		t.Fatalf("connections.refused.proxy_protocol = %d on a listener without the option", got)
	}
}

// Over max_conn_rate a connection first waits for the rate, then for its header.
func TestProxyProtocolAfterRateWait(t *testing.T) {
	_, addr, peers := proxyNode(t, func(c *Config) { c.Listeners[0].MaxConnRate = 1 })
	src := netip.MustParseAddrPort("203.0.113.7:1")
	h := proxyV2(1, src, netip.MustParseAddrPort(addr))
	proxyClient(t, addr, h, false, "first")
	proxyClient(t, addr, h, false, "second") // waits about a second for the rate
	for range 2 {
		if got := nextPeer(t, peers); got != src {
			t.Fatalf("peer %v, want %v", got, src)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the log's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
