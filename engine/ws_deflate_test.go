package engine

import (
	"bytes"
	"compress/flate"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// deflateNode is wsNode with permessage-deflate on and max_packet_size 64 KiB.
func deflateNode(t *testing.T, d transport.DeflateOptions) (n *Node, tcpAddr, wsAddr string) {
	t.Helper()
	return wsNode(t, func(o *transport.WebSocketOptions) {
		o.Deflate = &d
		o.MaxMessageSize = 64 << 10
	}, func(c *Config) {
		z := *c.Listeners[0].Zone
		z.MaxPacketSize = 64 << 10
		for i := range c.Listeners {
			c.Listeners[i].Zone = &z
		}
	})
}

// deflateRaw compresses p as one permessage-deflate message (sync marker stripped).
func deflateRaw(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = fw.Write(p)
	_ = fw.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// TestWSDeflateGorilla: a Go WebSocket client (gorilla, which offers permessage-deflate with
// no context takeover both ways and then compresses every message it sends) negotiates it,
// and MQTT 5 works over it both ways with large compressible payloads.
func TestWSDeflateGorilla(t *testing.T) {
	_, tcpAddr, wsAddr := deflateNode(t, transport.DeflateOptions{Level: flate.DefaultCompression})
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second, EnableCompression: true}
	conn, resp, err := d.Dial("ws://"+wsAddr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(got, "permessage-deflate") || !strings.Contains(got, "server_no_context_takeover") {
		t.Fatalf("Sec-WebSocket-Extensions %q, want permessage-deflate with server_no_context_takeover", got)
	}
	wc := &wsNetConn{Conn: conn}
	t.Cleanup(func() { wc.Close() })
	r := newReceived()
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(wc), OnPublishReceived: []func(paho.PublishReceived) (bool, error){r.handler}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "gz", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	sub5(t, c, "z/#", 1)
	tcp, _ := v5(t, tcpAddr, &paho.Connect{ClientID: "tcp", CleanStart: true}, nil)
	big := strings.Repeat("compressible payload ", 2000) // 42 KB, under max_packet_size
	pub5(t, tcp, "z/big", 1, big)
	r.expectMsg(t, "z/big", big)
	pub5(t, c, "z/self", 1, big) // compressed by gorilla, inflated by the broker
	r.expectMsg(t, "z/self", big)
	pub5(t, tcp, "z/small", 0, "tiny") // below the threshold: sent uncompressed
	r.expectMsg(t, "z/small", "tiny")
}

// TestWSDeflateNegotiation: offers the listener cannot honour are declined (the connection
// works uncompressed), client_context_takeover = no_takeover and client_max_window_bits are
// answered, and a listener without compress ignores the offer.
func TestWSDeflateNegotiation(t *testing.T) {
	_, _, on := deflateNode(t, transport.DeflateOptions{Level: flate.BestSpeed, ClientNoContextTakeover: true, ClientMaxWindowBits: 10})
	_, _, off := wsNode(t, nil, nil)
	f := func(addr, offer, want string) {
		t.Helper()
		w := dialWSRaw(t, addr)
		resp := w.upgrade("Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Extensions: "+offer)
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != want {
			t.Fatalf("offer %q: Sec-WebSocket-Extensions %q, want %q", offer, got, want)
		}
		w.send(binFrame(connectPacket(codec.V311, "n", nil)))
		if p := w.packets(1)[0]; p[0] != 0x20 {
			t.Fatalf("offer %q: no CONNACK: % x", offer, p)
		}
	}
	f(on, "permessage-deflate; client_max_window_bits",
		"permessage-deflate;server_no_context_takeover;client_no_context_takeover;client_max_window_bits=10")
	f(on, "permessage-deflate; client_max_window_bits=9", // the client's own lower limit wins
		"permessage-deflate;server_no_context_takeover;client_no_context_takeover;client_max_window_bits=9")
	f(on, "permessage-deflate", "permessage-deflate;server_no_context_takeover;client_no_context_takeover")
	// A 32 KiB window cannot be narrowed: declined, the next offer is taken; a bad parameter
	// declines the offer.
	f(on, "permessage-deflate; server_max_window_bits=10", "")
	f(on, "permessage-deflate; server_max_window_bits=10, permessage-deflate", "permessage-deflate;server_no_context_takeover;client_no_context_takeover")
	f(on, "permessage-deflate; bogus=1", "")
	f(on, "x-webkit-deflate-frame", "")
	f(off, "permessage-deflate", "")
}

// TestWSDeflateFraming: compressed frames in pieces and fragmented compressed messages are
// inflated; a compressed message inflating past max_packet_size is refused with 1009 (a
// decompression bomb); RSV1 on a continuation frame is a protocol error (1002); a
// connection without the extension refuses RSV1 (1002).
func TestWSDeflateFraming(t *testing.T) {
	_, _, addr := deflateNode(t, transport.DeflateOptions{Level: flate.DefaultCompression})
	open := func() *wsRaw {
		w := dialWSRaw(t, addr)
		w.upgrade("Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Extensions: permessage-deflate")
		return w
	}
	compressed := func(p []byte) []byte { // first byte: FIN, RSV1, binary
		b := binFrame(deflateRaw(t, p))
		b[0] |= 0x40
		return b
	}

	w := open()
	conn := compressed(connectPacket(codec.V311, "frag", nil))
	for _, b := range conn { // byte by byte
		w.send([]byte{b})
	}
	if p := w.packets(1)[0]; p[0] != 0x20 {
		t.Fatalf("no CONNACK: % x", p)
	}
	// SUBSCRIBE compressed and split over three frames: RSV1 on the first only.
	z := deflateRaw(t, []byte{0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x00})
	f1 := frame(0x2, false, z[:2])
	f1[0] |= 0x40
	w.send(append(append(f1, frame(0x0, false, z[2:4])...), frame(0x0, true, z[4:])...))
	if p := w.packets(1)[0]; p[0] != 0x90 {
		t.Fatalf("no SUBACK: % x", p)
	}
	// A bomb: 1 MiB of zeros in a PUBLISH, about 1 KB compressed.
	bomb := append([]byte{0x30, 0x80, 0x80, 0x40, 0x00, 0x01, 'x'}, make([]byte, 1<<20)...)
	w.send(compressed(bomb))
	if st := w.expectClose(); st != 1009 {
		t.Fatalf("bomb: close status %d, want 1009", st)
	}

	w = open()
	w.send(compressed(connectPacket(codec.V311, "rsv", nil)))
	w.packets(1)
	bad := frame(0x2, false, []byte{0x30})
	cont := frame(0x0, true, []byte{0x00})
	cont[0] |= 0x40
	w.send(append(bad, cont...))
	if st := w.expectClose(); st != 1002 {
		t.Fatalf("RSV1 on a continuation frame: close status %d, want 1002", st)
	}

	_, _, plain := wsNode(t, nil, nil)
	w = dialWSRaw(t, plain)
	w.upgrade("Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Extensions: permessage-deflate")
	w.send(compressed(connectPacket(codec.V311, "plain", nil)))
	if st := w.expectClose(); st != 1002 {
		t.Fatalf("RSV1 without the extension: close status %d, want 1002", st)
	}
}

// mqttJSDeflateScript connects MQTT.js with ws's perMessageDeflate (context takeover, every
// message compressed: threshold 0), prints the negotiated extensions, subscribes to z/in and
// publishes "ready" and then every payload it receives on z/in back on z/out, three times.
const mqttJSDeflateScript = `
const mqtt = require('mqtt');
const WebSocket = require('ws');
let sock;
const c = mqtt.connect(process.argv[2], {protocolVersion: 4, clientId: 'jsz', reconnectPeriod: 0, connectTimeout: 5000,
  createWebsocket: (url, protocols) => { sock = new WebSocket(url, protocols, {perMessageDeflate: {threshold: 0}}); return sock; }});
let n = 0;
c.on('error', (e) => { console.error('error', e.message); process.exit(2); });
c.on('connect', () => {
  console.log('ext ' + sock.extensions);
  c.subscribe('z/in', {qos: 1}, () => c.publish('z/out', 'ready', {qos: 1}));
});
c.on('message', (topic, payload) => {
  console.log('got ' + payload.length);
  c.publish('z/out', payload, {qos: 1}, () => { if (++n === 3) c.end(false, {}, () => process.exit(0)); });
});
setTimeout(() => { console.error('timeout'); process.exit(4); }, 15000);
`

// TestWSDeflateMQTTJS: MQTT.js over ws with permessage-deflate, the client keeping its
// compression context across messages (the broker keeps the window as dictionary):
// payloads echoed through it arrive intact.
func TestWSDeflateMQTTJS(t *testing.T) {
	modules := mqttJSModules(t)
	_, tcpAddr, wsAddr := deflateNode(t, transport.DeflateOptions{Level: flate.DefaultCompression})
	script := filepath.Join(t.TempDir(), "z.js")
	if err := os.WriteFile(script, []byte(mqttJSDeflateScript), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newReceived()
	gc, _ := v5(t, tcpAddr, &paho.Connect{ClientID: "go-z", CleanStart: true}, r)
	sub5(t, gc, "z/out", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, "ws://"+wsAddr+"/mqtt")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case p := <-r.ch:
		if string(p.Payload) != "ready" {
			t.Fatalf("first message %q", p.Payload)
		}
	case err := <-done:
		t.Fatalf("node exited: %v\n%s\n%s", err, stdout.String(), stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("MQTT.js not ready\n%s", stderr.String())
	}
	// The same text three times: with context takeover the later ones compress to
	// back-references into the earlier messages.
	payloads := []string{strings.Repeat("hello deflate ", 1000), strings.Repeat("hello deflate ", 1000), "short " + strings.Repeat("x", 300)}
	for _, p := range payloads {
		pub5(t, gc, "z/in", 1, p)
		if got := r.next(t); string(got.Payload) != p {
			t.Fatalf("echo of %d bytes: got %d bytes", len(p), len(got.Payload))
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("node: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "ext permessage-deflate") || strings.Contains(strings.SplitN(out, "\n", 2)[0], "client_no_context_takeover") {
		t.Fatalf("negotiated %q, want permessage-deflate with the client keeping its context", strings.SplitN(out, "\n", 2)[0])
	}
}
