package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport"
)

// MQTT 5 over WebSocket with paho.golang: QoS 0, 1 and 2 both ways between a WebSocket
// client and a TCP client, and a stream of 4 KiB payloads (frames larger than one read of
// the client, payloads sent by reference).
func TestWebSocketPahoQoS(t *testing.T) {
	_, tcpAddr, wsAddr := wsNode(t, nil, nil)
	wsRecv, tcpRecv := newReceived(), newReceived()
	// paho writes a packet with several Writes (net.Buffers), which a WebSocket adapter
	// cannot make atomic: a client that publishes must not also be acknowledging deliveries
	// at the same time, so one WebSocket client subscribes and another publishes.
	wc := v5ws(t, wsAddr, &paho.Connect{ClientID: "ws-1", CleanStart: true}, wsRecv)
	wp := v5ws(t, wsAddr, &paho.Connect{ClientID: "ws-pub", CleanStart: true}, nil)
	tc, _ := v5(t, tcpAddr, &paho.Connect{ClientID: "tcp-1", CleanStart: true}, tcpRecv)
	sub5(t, wc, "to/ws", 2)
	sub5(t, tc, "to/tcp", 2)
	for qos := byte(0); qos <= 2; qos++ {
		pub5(t, tc, "to/ws", qos, fmt.Sprintf("hello ws %d", qos))
		if p := wsRecv.next(t); string(p.Payload) != fmt.Sprintf("hello ws %d", qos) || p.QoS != qos {
			t.Fatalf("ws client got %q QoS %d", p.Payload, p.QoS)
		}
		pub5(t, wp, "to/tcp", qos, fmt.Sprintf("hello tcp %d", qos))
		if p := tcpRecv.next(t); string(p.Payload) != fmt.Sprintf("hello tcp %d", qos) || p.QoS != qos {
			t.Fatalf("tcp client got %q QoS %d", p.Payload, p.QoS)
		}
	}
	// A stream of 4 KiB payloads, WebSocket to WebSocket.
	sub5(t, wc, "big", 1)
	const count = 200
	for i := range count {
		payload := bytes.Repeat([]byte{byte(i)}, 4096)
		if _, err := wp.Publish(ctx5(t), &paho.Publish{Topic: "big", QoS: 1, Payload: payload}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range count {
		p := wsRecv.next(t)
		if len(p.Payload) != 4096 || p.Payload[0] != byte(i) || p.Payload[4095] != byte(i) {
			t.Fatalf("message %d: %d bytes starting %d", i, len(p.Payload), p.Payload[0])
		}
	}
}

// The CONNECT frame split at every byte, and the CONNECT packet split between two frames at
// every byte (a fragmented message, and two messages): the broker answers CONNACK each time.
func TestWebSocketPieces(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, nil)
	connect := connectPacket(codec.V311, "pieces", nil)
	f := binFrame(connect)
	check := func(w *wsRaw, what string) {
		t.Helper()
		p := w.packets(1)[0]
		if codec.PacketType(p[0]>>4) != codec.TypeConnack || p[3] != 0 {
			t.Fatalf("%s: got % x, want CONNACK 0", what, p)
		}
	}
	for i := 1; i < len(f); i++ {
		w := dialWSRaw(t, wsAddr)
		w.upgrade()
		w.send(f[:i])
		time.Sleep(2 * time.Millisecond)
		w.send(f[i:])
		check(w, fmt.Sprintf("frame split at %d", i))
		w.c.Close()
	}
	for i := 1; i < len(connect); i++ {
		for _, fragmented := range []bool{true, false} {
			w := dialWSRaw(t, wsAddr)
			w.upgrade()
			var b []byte
			if fragmented {
				b = append(frame(0x2, false, connect[:i]), frame(0x0, true, connect[i:])...)
			} else {
				b = append(binFrame(connect[:i]), binFrame(connect[i:])...)
			}
			// A ping between the pieces of a fragmented message is allowed.
			if fragmented {
				first := len(frame(0x2, false, connect[:i]))
				b = append(append(append([]byte(nil), b[:first]...), frame(0x9, true, []byte("p"))...), b[first:]...)
			}
			w.send(b)
			if fragmented {
				if op, _, p := w.next(); op != 0xa || string(p) != "p" {
					t.Fatalf("pong: op %d payload %q", op, p)
				}
			}
			check(w, fmt.Sprintf("packet split at %d (fragmented %v)", i, fragmented))
			w.c.Close()
		}
	}
}

// The upgrade request and several frames in one write; frames carrying several packets.
func TestWebSocketSeveralFramesPerWrite(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, nil)
	w := dialWSRaw(t, wsAddr)
	sub := codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("a/b", 1)}}, codec.V311)
	pub := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("a/b"), QoS: 1, PacketID: 2, Payload: []byte("x")}, codec.V311)
	ping := codec.AppendPingreq(nil)
	b := []byte(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: mqtt"))
	b = append(b, binFrame(connectPacket(codec.V311, "multi", nil))...)
	b = append(b, binFrame(append(append([]byte(nil), sub...), pub...))...)
	b = append(b, binFrame(ping)...)
	w.send(b)
	if resp := w.response(); resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var types []codec.PacketType
	for _, p := range w.packets(5) {
		types = append(types, codec.PacketType(p[0]>>4))
	}
	want := []codec.PacketType{codec.TypeConnack, codec.TypeSuback, codec.TypePuback, codec.TypePublish, codec.TypePingresp}
	// The delivery and the PUBACK are written in the same round, in either order.
	if types[0] != want[0] || types[1] != want[1] || types[4] != want[4] ||
		!(types[2] == codec.TypePuback && types[3] == codec.TypePublish || types[3] == codec.TypePuback && types[2] == codec.TypePublish) {
		t.Fatalf("packets %v, want %v", types, want)
	}
}

// Ping is answered with pong carrying the same payload; a close frame is echoed with its
// status and the socket closed; the will of a client closed that way goes out.
func TestWebSocketPingAndClose(t *testing.T) {
	_, tcpAddr, wsAddr := wsNode(t, nil, nil)
	r := newReceived()
	tc, _ := v5(t, tcpAddr, &paho.Connect{ClientID: "watch", CleanStart: true}, r)
	sub5(t, tc, "will", 0)
	w := dialWSRaw(t, wsAddr)
	w.upgrade()
	w.send(binFrame(connectPacket(codec.V311, "closer", func(c *codec.Connect) {
		c.WillFlag, c.WillTopic, c.WillPayload = true, []byte("will"), []byte("gone")
	})))
	w.packets(1)
	w.send(frame(0x9, true, []byte("hello")))
	if op, fin, p := w.next(); op != 0xa || !fin || string(p) != "hello" {
		t.Fatalf("got op %d fin %v %q, want pong hello", op, fin, p)
	}
	body := binary.BigEndian.AppendUint16(nil, 1001)
	w.send(frame(0x8, true, append(body, "bye"...)))
	if status := w.expectClose(); status != 1001 {
		t.Fatalf("close status %d, want 1001 echoed", status)
	}
	if p := r.next(t); string(p.Payload) != "gone" {
		t.Fatalf("will %q", p.Payload)
	}
}

// A connection the broker closes (a second CONNECT) gets the MQTT 5 DISCONNECT, then a close
// frame with status 1000.
func TestWebSocketServerClose(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, nil)
	w := dialWSRaw(t, wsAddr)
	w.upgrade()
	w.send(binFrame(connectPacket(codec.V5, "twice", nil)))
	w.packets(1)
	w.send(binFrame(connectPacket(codec.V5, "twice", nil)))
	p := w.packets(1)[0]
	if codec.PacketType(p[0]>>4) != codec.TypeDisconnect || p[2] != byte(codec.ProtocolError) {
		t.Fatalf("got % x, want DISCONNECT 0x82", p)
	}
	if status := w.expectClose(); status != 1000 {
		t.Fatalf("close status %d, want 1000", status)
	}
}

// Refused frames: text (1003), unmasked (1002), over max_frame_size (1009), a bad close
// payload (1002), a continuation without a start (1002).
func TestWebSocketRefusedFrames(t *testing.T) {
	_, _, wsAddr := wsNode(t, func(o *transport.WebSocketOptions) { o.MaxFrameSize = 1000 }, nil)
	f := func(what string, b []byte, want uint16) {
		t.Helper()
		w := dialWSRaw(t, wsAddr)
		w.upgrade()
		w.send(binFrame(connectPacket(codec.V311, "refused", nil)))
		w.packets(1)
		w.send(b)
		if status := w.expectClose(); status != want {
			t.Fatalf("%s: close status %d, want %d", what, status, want)
		}
	}
	f("text", frame(0x1, true, []byte("hi")), 1003)
	f("unmasked", []byte{0x82, 0x02, 0xc0, 0x00}, 1002)
	f("too big", binFrame(make([]byte, 1001)), 1009)
	f("1-byte close", frame(0x8, true, []byte{1}), 1002)
	f("continuation first", frame(0x0, true, []byte{0xc0, 0}), 1002)
	f("long ping", frame(0x9, true, make([]byte, 126)), 1002)
	f("reserved opcode", frame(0x3, true, nil), 1002)
}

// Bad upgrades get the right HTTP status and the socket closed; subprotocols are negotiated.
func TestWebSocketUpgrades(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, nil)
	f := func(req string, status int, proto string) {
		t.Helper()
		w := dialWSRaw(t, wsAddr)
		w.send([]byte(req))
		resp := w.response()
		if resp.StatusCode != status {
			t.Fatalf("%q: status %d, want %d", req, resp.StatusCode, status)
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != proto {
			t.Fatalf("%q: subprotocol %q, want %q", req, got, proto)
		}
		if status != 101 {
			_, _ = io.Copy(io.Discard, resp.Body) // the reason, as text
			w.expectEOF()
		}
	}
	f(upgradeRequest("/mqtt"), 101, "")
	f(upgradeRequest("/mqtt?x=1", "Sec-WebSocket-Protocol: mqtt"), 101, "mqtt")
	f(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: mqttv3.1"), 101, "mqttv3.1")
	f(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: foo, mqttv3.1.1"), 101, "mqttv3.1.1")
	f(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: foo"), 400, "")
	f(upgradeRequest("/other"), 404, "")
	f(strings.Replace(upgradeRequest("/mqtt"), "Upgrade: websocket\r\n", "", 1), 400, "")
	f(strings.Replace(upgradeRequest("/mqtt"), "Version: 13", "Version: 8", 1), 426, "")
	f(strings.Replace(upgradeRequest("/mqtt"), "GET", "POST", 1), 405, "")
	f("GET /mqtt HTTP/1.1\r\nX: "+strings.Repeat("a", 9000)+"\r\n\r\n", 431, "")

	// verify_protocol_header off: an unknown subprotocol is accepted, answered with none.
	_, _, lax := wsNode(t, func(o *transport.WebSocketOptions) { o.VerifyProtocol = false }, nil)
	w := dialWSRaw(t, lax)
	w.send([]byte(upgradeRequest("/mqtt", "Sec-WebSocket-Protocol: wechat")))
	if resp := w.response(); resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Fatalf("lax: status %d protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}

	// check_origin_enable with check_origins; allow_origin_absence off.
	_, _, strict := wsNode(t, func(o *transport.WebSocketOptions) {
		o.CheckOrigin, o.Origins, o.AllowOriginAbsence = true, []string{"https://good.example"}, false
	}, nil)
	g := func(origin string, status int) {
		t.Helper()
		w := dialWSRaw(t, strict)
		var extra []string
		if origin != "" {
			extra = append(extra, "Origin: "+origin)
		}
		w.send([]byte(upgradeRequest("/mqtt", extra...)))
		if resp := w.response(); resp.StatusCode != status {
			t.Fatalf("origin %q: status %d, want %d", origin, resp.StatusCode, status)
		}
	}
	g("https://good.example", 101)
	g("https://evil.example", 403)
	g("", 403)
}

// An upgrade request that never completes is closed after the zone's idle_timeout.
func TestWebSocketUpgradeTimeout(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, func(c *Config) {
		z := *c.Listeners[0].Zone
		z.IdleTimeout = 300 * time.Millisecond
		c.Listeners[1].Zone = &z
	})
	w := dialWSRaw(t, wsAddr)
	w.send([]byte("GET /mqtt HTTP/1.1\r\n"))
	start := time.Now()
	w.expectEOF()
	if time.Since(start) < 200*time.Millisecond {
		t.Fatalf("closed after %v, before idle_timeout", time.Since(start))
	}
}

// proxy_address_header and proxy_port_header set the client's address only when configured.
func TestWebSocketProxyHeaders(t *testing.T) {
	peers := func(n *Node) chan netip.AddrPort {
		ch := make(chan netip.AddrPort, 4)
		n.AddHooks(&Hooks{ClientConnected: func(ev *ClientEvent) { ch <- ev.Peer }})
		return ch
	}
	run := func(mutate func(*transport.WebSocketOptions), want func(netip.AddrPort) bool, what string) {
		t.Helper()
		n, _, wsAddr := wsNode(t, mutate, nil)
		ch := peers(n)
		w := dialWSRaw(t, wsAddr)
		w.upgrade("X-Forwarded-For: 203.0.113.7, 10.0.0.1", "X-Forwarded-Port: 4242")
		w.send(binFrame(connectPacket(codec.V311, "proxied", nil)))
		w.packets(1)
		select {
		case p := <-ch:
			if !want(p) {
				t.Fatalf("%s: peer %v", what, p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connected hook")
		}
	}
	run(func(o *transport.WebSocketOptions) {
		o.ProxyAddressHeader, o.ProxyPortHeader = "x-forwarded-for", "X-Forwarded-Port"
	}, func(p netip.AddrPort) bool { return p == netip.MustParseAddrPort("203.0.113.7:4242") }, "trusted")
	run(nil, func(p netip.AddrPort) bool { return p.Addr() == netip.MustParseAddr("127.0.0.1") }, "not configured")
}

// Many WebSocket clients publishing at once to one subscriber: nothing is lost or garbled.
func TestWebSocketConcurrentPublishers(t *testing.T) {
	_, _, wsAddr := wsNode(t, nil, nil)
	r := newReceived()
	sc := v5ws(t, wsAddr, &paho.Connect{ClientID: "sink", CleanStart: true}, r)
	sub5(t, sc, "c/#", 1)
	const clients, each = 4, 50
	var wg sync.WaitGroup
	for i := range clients {
		pc := v5ws(t, wsAddr, &paho.Connect{ClientID: fmt.Sprintf("pub-%d", i), CleanStart: true}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				_, _ = pc.Publish(ctx5(t), &paho.Publish{Topic: fmt.Sprintf("c/%d", i), QoS: 1, Payload: []byte(fmt.Sprint(j))})
			}
		}()
	}
	wg.Wait()
	got := map[string]int{}
	for range clients * each {
		p := r.next(t)
		got[p.Topic]++
	}
	for i := range clients {
		if got[fmt.Sprintf("c/%d", i)] != each {
			t.Fatalf("counts %v", got)
		}
	}
}
