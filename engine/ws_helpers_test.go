package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// wsNode starts a node with a TCP and a WebSocket listener ("external" both) and returns
// their addresses. mutate may adjust the WebSocket options.
func wsNode(t *testing.T, mutate func(*transport.WebSocketOptions), cfgMutate func(*Config)) (n *Node, tcpAddr, wsAddr string) {
	t.Helper()
	n, tcpAddr = testNode(t, func(c *Config) {
		o := &transport.WebSocketOptions{Path: "/mqtt", VerifyProtocol: true, AllowOriginAbsence: true}
		if mutate != nil {
			mutate(o)
		}
		o.Prepare()
		c.Listeners = append(c.Listeners, Listener{Kind: "ws", Name: "external", Addr: "127.0.0.1:0",
			Zone: c.Listeners[0].Zone, MaxConnections: 10000, WebSocket: o})
		if cfgMutate != nil {
			cfgMutate(c)
		}
	})
	return n, tcpAddr, n.Addr("ws:external")
}

// wsNetConn adapts a gorilla WebSocket connection to net.Conn for paho: each Write is one
// binary message; Read returns message payloads as a stream. paho writes a packet as several
// Writes (fixed header, then each part) and locks the connection around them only when it is
// a sync.Locker: without Lock and Unlock, its first PINGREQ (sent at once after the CONNACK,
// from the pinger's goroutine) could land between the parts of the test's first SUBSCRIBE,
// which the broker then rightly refused as malformed.
type wsNetConn struct {
	*websocket.Conn
	mu  sync.Mutex // one WebSocket message at a time
	pkt sync.Mutex // one MQTT packet at a time (paho's Lock/Unlock)
	r   io.Reader
}

// Lock and Unlock make the connection a sync.Locker for paho's packet writes.
func (c *wsNetConn) Lock()   { c.pkt.Lock() }
func (c *wsNetConn) Unlock() { c.pkt.Unlock() }

func (c *wsNetConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			kind, r, err := c.NextReader()
			if err != nil {
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, io.ErrUnexpectedEOF
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsNetConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsNetConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// dialWS opens a WebSocket to addr's /mqtt offering the mqtt subprotocol.
func dialWS(t *testing.T, addr string) *wsNetConn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatalf("dial ws://%s/mqtt: %v", addr, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", got)
	}
	c := &wsNetConn{Conn: ws}
	t.Cleanup(func() { c.Close() })
	return c
}

// v5ws connects a paho.golang client over WebSocket.
func v5ws(t *testing.T, addr string, cp *paho.Connect, r *received) *paho.Client {
	t.Helper()
	// paho writes a packet with several Writes: locked, so that its pinger's PINGREQ cannot
	// land between them (each Write is a WebSocket message of its own).
	cfg := paho.ClientConfig{Conn: packets.NewThreadSafeConn(dialWS(t, addr))}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("connect %q over ws: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// wsRaw is a hand-written WebSocket client for the framing tests: it sends exactly the bytes
// a test builds (masked frames, split anywhere) and parses the server's frames.
type wsRaw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// upgradeRequest is a valid upgrade request for path with the given extra header lines.
func upgradeRequest(path string, extra ...string) string {
	s := "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s + "\r\n"
}

// dialWSRaw connects and sends req (nothing when ""), returning the client.
func dialWSRaw(t *testing.T, addr string) *wsRaw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wsRaw{t: t, c: c, r: bufio.NewReader(c)}
}

func (w *wsRaw) send(b []byte) {
	w.t.Helper()
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// response reads the HTTP response head to the upgrade request.
func (w *wsRaw) response() *http.Response {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(w.r, nil)
	if err != nil {
		w.t.Fatalf("reading the upgrade response: %v", err)
	}
	return resp
}

// upgrade sends a valid upgrade request (with extra headers) and expects 101.
func (w *wsRaw) upgrade(extra ...string) *http.Response {
	w.t.Helper()
	w.send([]byte(upgradeRequest("/mqtt", extra...)))
	resp := w.response()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		w.t.Fatalf("upgrade: status %d, want 101", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		w.t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	return resp
}

// frame builds a masked client frame.
func frame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func binFrame(p []byte) []byte { return frame(0x2, true, p) }

// next reads one server frame: opcode and payload. Server frames must be final... or not;
// fin is returned too.
func (w *wsRaw) next() (op byte, fin bool, payload []byte) {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		w.t.Fatalf("reading a frame: %v", err)
	}
	if h[1]&0x80 != 0 {
		w.t.Fatal("server frame is masked")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		_, _ = io.ReadFull(w.r, e[:])
		n = int(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		_, _ = io.ReadFull(w.r, e[:])
		n = int(binary.BigEndian.Uint64(e[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(w.r, payload); err != nil {
		w.t.Fatalf("reading a frame payload: %v", err)
	}
	return h[0] & 0x0f, h[0]&0x80 != 0, payload
}

// packets reads binary frames until count MQTT packets arrived and returns them.
func (w *wsRaw) packets(count int) [][]byte {
	w.t.Helper()
	var buf []byte
	var out [][]byte
	for len(out) < count {
		op, _, p := w.next()
		if op != 0x2 {
			w.t.Fatalf("frame opcode %d, want binary (payload % x)", op, p)
		}
		buf = append(buf, p...)
		for {
			h, err := codec.Frame(buf, 0)
			if err != nil {
				w.t.Fatalf("bad MQTT bytes: %v", err)
			}
			if h.Total == 0 {
				break
			}
			out = append(out, buf[:h.Total])
			buf = buf[h.Total:]
		}
	}
	return out
}

// expectClose reads frames until a close frame and returns its status, then expects EOF.
func (w *wsRaw) expectClose() uint16 {
	w.t.Helper()
	for {
		op, _, p := w.next()
		if op != 0x8 {
			continue
		}
		var status uint16
		if len(p) >= 2 {
			status = binary.BigEndian.Uint16(p)
		}
		w.expectEOF()
		return status
	}
}

func (w *wsRaw) expectEOF() {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(w.r)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		w.t.Fatalf("expected the broker to close the socket: %v", err)
	}
	if len(rest) > 0 {
		w.t.Fatalf("bytes after the close: % x", rest)
	}
}
