package transport

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// WebSocketOptions are the settings of one WebSocket listener (listener.ws.<name>.*). Build
// one with Prepare, then share it, read-only, between the listener's connections.
type WebSocketOptions struct {
	// Path is the HTTP path of the MQTT endpoint (mqtt_path); other paths get 404.
	Path string
	// VerifyProtocol (verify_protocol_header) refuses (400) a client that offers
	// subprotocols none of which is mqtt, mqttv3.1 or mqttv3.1.1. A client offering none is
	// accepted either way, and answered with none.
	VerifyProtocol bool
	// ProxyAddressHeader and ProxyPortHeader (e.g. X-Forwarded-For, X-Forwarded-Port) name
	// the client's address and port when the listener is behind a proxy; "" trusts no header.
	ProxyAddressHeader string
	ProxyPortHeader    string
	// MaxFrameSize is the largest data frame payload accepted (close 1009 above); 0: no
	// limit of its own.
	MaxFrameSize int
	// CheckOrigin refuses (403) requests whose Origin header is not one of Origins; a request
	// without one passes only with AllowOriginAbsence.
	CheckOrigin        bool
	AllowOriginAbsence bool
	Origins            []string
	// Deflate enables permessage-deflate (compress = true) when a client offers it; nil: off.
	Deflate *DeflateOptions
	// SinglePacket (mqtt_piggyback = single) sends each MQTT packet in a WebSocket message of
	// its own; otherwise a round's packets share one message.
	SinglePacket bool
	// MaxMessageSize bounds a compressed message and its inflated size (the zone's
	// max_packet_size): close 1009 above; 0: MQTT's largest packet (256 MiB).
	MaxMessageSize int
}

// Prepare canonicalises the header names; call it once before sharing o.
func (o *WebSocketOptions) Prepare() {
	if o.ProxyAddressHeader != "" {
		o.ProxyAddressHeader = textproto.CanonicalMIMEHeaderKey(o.ProxyAddressHeader)
	}
	if o.ProxyPortHeader != "" {
		o.ProxyPortHeader = textproto.CanonicalMIMEHeaderKey(o.ProxyPortHeader)
	}
}

// Subprotocols are the WebSocket subprotocols MQTT clients offer; the first one offered is
// chosen.
var Subprotocols = []string{"mqtt", "mqttv3.1", "mqttv3.1.1"}

// indexHeaderEnd returns the length of the HTTP request head at the start of b (up to and
// including the blank line), or -1 when it is not complete.
func indexHeaderEnd(b []byte) int {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return -1
	}
	return i + 4
}

// upgrader is the state of one upgrade: gobwas's Upgrader with its callbacks bound once to
// this struct, the reader that gives it the complete request and the buffer that collects
// its response. Upgraders are pooled, so that an upgrade allocates nothing of its own: a
// connection storm over WebSocket leaves no more garbage per connection than one over TCP
// (the garbage raises the heap, and so the RSS, that idle connections are measured by).
// Used on one event loop at a time.
type upgrader struct {
	u       ws.Upgrader
	negFunc func(httphead.Option) (httphead.Option, error) // u.Negotiate when deflate is on
	w       *WebSocket

	offered, chosen, hasOrigin bool
	origin, fwdAddr, fwdPort   string

	rd  bytes.Reader
	out bytes.Buffer
}

var upgraders = sync.Pool{New: func() any { return newUpgrader() }}

// maxPooledResponse bounds the response buffer an upgrader keeps for reuse.
const maxPooledResponse = 4 << 10

func newUpgrader() *upgrader {
	up := &upgrader{}
	up.u = ws.Upgrader{
		ReadBufferSize:  maxUpgradeRequest,
		OnRequest:       up.onRequest,
		ProtocolCustom:  up.protocol,
		OnHeader:        up.onHeader,
		OnBeforeUpgrade: up.beforeUpgrade,
	}
	up.negFunc = up.negotiate
	return up
}

func (up *upgrader) Read(p []byte) (int, error)  { return up.rd.Read(p) }
func (up *upgrader) Write(p []byte) (int, error) { return up.out.Write(p) }

func (up *upgrader) onRequest(uri []byte) error {
	o := up.w.opts
	path := uri
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if o.Path != "" && string(path) != o.Path {
		return ws.RejectConnectionError(ws.RejectionStatus(http.StatusNotFound),
			ws.RejectionReason(fmt.Sprintf("no MQTT endpoint at %q (mqtt_path is %q)", path, o.Path)))
	}
	return nil
}

func (up *upgrader) protocol(v []byte) (string, bool) {
	up.offered = true
	sel := ""
	ok := httphead.ScanTokens(v, func(tok []byte) bool {
		for _, p := range Subprotocols {
			if string(tok) == p {
				sel, up.chosen = p, true
				return false
			}
		}
		return true
	})
	return sel, ok
}

func (up *upgrader) onHeader(k, v []byte) error {
	o := up.w.opts
	switch key := string(k); {
	case key == "Origin":
		up.origin, up.hasOrigin = string(v), true
	case o.ProxyAddressHeader != "" && key == o.ProxyAddressHeader:
		up.fwdAddr = string(v)
	case o.ProxyPortHeader != "" && key == o.ProxyPortHeader:
		up.fwdPort = string(v)
	}
	return nil
}

// noExtraHeaders is the 101 response's extra headers: none.
var noExtraHeaders ws.HandshakeHeader = ws.HandshakeHeaderString("")

func (up *upgrader) beforeUpgrade() (ws.HandshakeHeader, error) {
	o := up.w.opts
	if o.VerifyProtocol && up.offered && !up.chosen {
		return nil, ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
			ws.RejectionReason("no supported subprotocol offered: want one of "+strings.Join(Subprotocols, ", ")))
	}
	if o.CheckOrigin && !originAllowed(o, up.origin, up.hasOrigin) {
		return nil, ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
			ws.RejectionReason(fmt.Sprintf("origin %q is not allowed", up.origin)))
	}
	return noExtraHeaders, nil
}

func (up *upgrader) negotiate(opt httphead.Option) (httphead.Option, error) {
	return negotiateDeflate(up.w.opts.Deflate, opt, &up.w.z)
}

// upgrade answers the complete request head req: 101 and the chosen subprotocol, or a refusal
// (400 bad request or bad headers, 403 origin, 404 path, 405 method, 426 version).
func (w *WebSocket) upgrade(req []byte) error {
	up := upgraders.Get().(*upgrader)
	up.w = w
	up.offered, up.chosen, up.hasOrigin = false, false, false
	up.origin, up.fwdAddr, up.fwdPort = "", "", ""
	up.u.Negotiate = nil
	if w.opts.Deflate != nil {
		up.u.Negotiate = up.negFunc
	}
	up.rd.Reset(req)
	up.out.Reset()
	_, err := up.u.Upgrade(up)
	if up.out.Len() > 0 {
		if _, werr := w.gc.Write(up.out.Bytes()); werr != nil && err == nil {
			err = werr
		}
	}
	fwdAddr, fwdPort := up.fwdAddr, up.fwdPort
	up.w, up.origin, up.fwdAddr, up.fwdPort = nil, "", "", ""
	up.rd.Reset(nil)
	if up.out.Cap() <= maxPooledResponse {
		upgraders.Put(up)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWSUpgrade, err)
	}
	if fwdAddr != "" {
		w.peer = forwardedPeer(fwdAddr, fwdPort, w.gc.RemoteAddr())
	}
	return nil
}

// originAllowed applies check_origins to the request's Origin header.
func originAllowed(o *WebSocketOptions, origin string, has bool) bool {
	if !has {
		return o.AllowOriginAbsence
	}
	for _, x := range o.Origins {
		if strings.EqualFold(strings.TrimRight(x, "/"), strings.TrimRight(origin, "/")) {
			return true
		}
	}
	return false
}

// forwardedPeer is the client address named by the proxy headers: the first address of the
// list (the client; the proxies follow it), with the port header's port, else the socket's
// port. It returns nil when the address does not parse.
func forwardedPeer(addr, port string, sock net.Addr) net.Addr {
	first, _, _ := strings.Cut(addr, ",")
	first = strings.TrimSpace(first)
	ip, err := netip.ParseAddr(strings.Trim(first, "[]"))
	if err != nil {
		ap, perr := netip.ParseAddrPort(first)
		if perr != nil {
			return nil
		}
		ip = ap.Addr()
	}
	p := 0
	if t, ok := sock.(*net.TCPAddr); ok {
		p = t.Port
	}
	if port != "" {
		if n, err := strconv.ParseUint(strings.TrimSpace(port), 10, 16); err == nil {
			p = int(n)
		}
	}
	return &net.TCPAddr{IP: ip.Unmap().AsSlice(), Port: p}
}

// refuse answers the upgrade request with an HTTP error and stops writing.
func (w *WebSocket) refuse(status int, why string) {
	msg := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(why)) +
		"\r\nConnection: close\r\n\r\n" + why
	_, _ = w.gc.Write([]byte(msg))
	w.markClosed()
}
