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

// upgradeIO gives gobwas's upgrader the complete request and collects its response.
type upgradeIO struct {
	*bytes.Reader
	out bytes.Buffer
}

func (u *upgradeIO) Write(p []byte) (int, error) { return u.out.Write(p) }

// upgrade answers the complete request head req: 101 and the chosen subprotocol, or a refusal
// (400 bad request or bad headers, 403 origin, 404 path, 405 method, 426 version).
func (w *WebSocket) upgrade(req []byte) error {
	o := w.opts
	var (
		offered, chosen bool
		origin          string
		hasOrigin       bool
		fwdAddr         string
		fwdPort         string
	)
	u := ws.Upgrader{
		ReadBufferSize: maxUpgradeRequest,
		OnRequest: func(uri []byte) error {
			path := uri
			if i := bytes.IndexByte(path, '?'); i >= 0 {
				path = path[:i]
			}
			if o.Path != "" && string(path) != o.Path {
				return ws.RejectConnectionError(ws.RejectionStatus(http.StatusNotFound),
					ws.RejectionReason(fmt.Sprintf("no MQTT endpoint at %q (mqtt_path is %q)", path, o.Path)))
			}
			return nil
		},
		ProtocolCustom: func(v []byte) (string, bool) {
			offered = true
			sel := ""
			ok := httphead.ScanTokens(v, func(tok []byte) bool {
				for _, p := range Subprotocols {
					if string(tok) == p {
						sel, chosen = p, true
						return false
					}
				}
				return true
			})
			return sel, ok
		},
		OnHeader: func(k, v []byte) error {
			switch key := string(k); {
			case key == "Origin":
				origin, hasOrigin = string(v), true
			case o.ProxyAddressHeader != "" && key == o.ProxyAddressHeader:
				fwdAddr = string(v)
			case o.ProxyPortHeader != "" && key == o.ProxyPortHeader:
				fwdPort = string(v)
			}
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			if o.VerifyProtocol && offered && !chosen {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
					ws.RejectionReason("no supported subprotocol offered: want one of "+strings.Join(Subprotocols, ", ")))
			}
			if o.CheckOrigin && !originAllowed(o, origin, hasOrigin) {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
					ws.RejectionReason(fmt.Sprintf("origin %q is not allowed", origin)))
			}
			return ws.HandshakeHeaderString(""), nil
		},
	}
	if o.Deflate != nil {
		u.Negotiate = func(opt httphead.Option) (httphead.Option, error) { return negotiateDeflate(o.Deflate, opt, &w.z) }
	}
	rw := &upgradeIO{Reader: bytes.NewReader(req)}
	_, err := u.Upgrade(rw)
	if rw.out.Len() > 0 {
		if _, werr := w.gc.Write(rw.out.Bytes()); werr != nil && err == nil {
			err = werr
		}
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
