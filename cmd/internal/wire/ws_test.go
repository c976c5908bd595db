package wire

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/flate"

	"github.com/emqgo/emqgo/engine/config"
)

// The listener.ws.* keys reach the WebSocket listener: mqtt_path, verify_protocol_header,
// check_origin_enable / check_origins / allow_origin_absence, and idle_timeout.
func TestWebSocketKeys(t *testing.T) {
	n := startConf(t, `
listener.tcp.external = 127.0.0.1:0
listener.ws.w = 127.0.0.1:0
listener.ws.w.mqtt_path = /broker
listener.ws.w.verify_protocol_header = off
listener.ws.w.check_origin_enable = true
listener.ws.w.check_origins = https://a.example, https://b.example
listener.ws.w.allow_origin_absence = false
listener.ws.w.idle_timeout = 1s
`)
	addr := n.Addr("ws:w")
	if addr == "" {
		t.Fatal("no ws:w listener")
	}
	dial := func(path, origin string, protos ...string) (*websocket.Conn, int) {
		t.Helper()
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 5 * time.Second}
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := d.Dial("ws://"+addr+path, h)
		if resp == nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, resp.StatusCode
	}
	if _, st := dial("/mqtt", "https://a.example", "mqtt"); st != http.StatusNotFound {
		t.Errorf("/mqtt with mqtt_path = /broker: status %d, want 404", st)
	}
	if _, st := dial("/broker", "https://b.example", "wechat"); st != http.StatusSwitchingProtocols {
		t.Errorf("unknown subprotocol with verify_protocol_header off: status %d, want 101", st)
	}
	if _, st := dial("/broker", "https://c.example", "mqtt"); st != http.StatusForbidden {
		t.Errorf("origin not in check_origins: status %d, want 403", st)
	}
	// idle_timeout: an upgraded connection that sends no CONNECT is closed.
	c, st := dial("/broker", "https://a.example", "mqtt")
	if st != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", st)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("read a message, want the connection closed")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v, want about idle_timeout (1s)", d)
	}
}

// compress and the deflate_opts keys that act reach the WebSocket listener's options, with
// the zone's max_packet_size as the inflated-message limit.
func TestWebSocketDeflateKeys(t *testing.T) {
	c, _, err := config.Load("", []string{
		"EMQX_LISTENER__WS__EXTERNAL__COMPRESS=true",
		"EMQX_LISTENER__WS__EXTERNAL__DEFLATE_OPTS__LEVEL=best_speed",
		"EMQX_LISTENER__WS__EXTERNAL__DEFLATE_OPTS__CLIENT_CONTEXT_TAKEOVER=no_takeover",
		"EMQX_LISTENER__WS__EXTERNAL__DEFLATE_OPTS__CLIENT_MAX_WINDOW_BITS=10",
		"EMQX_ZONE__EXTERNAL__MAX_PACKET_SIZE=128KB",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cfg.Listeners {
		if l.Kind != "ws" {
			continue
		}
		d := l.WebSocket.Deflate
		if d == nil || d.Level != flate.BestSpeed || !d.ClientNoContextTakeover || d.ClientMaxWindowBits != 10 || l.WebSocket.MaxMessageSize != 128<<10 {
			t.Fatalf("ws listener: deflate %+v, max message %d", d, l.WebSocket.MaxMessageSize)
		}
		return
	}
	t.Fatal("no ws listener")
}
